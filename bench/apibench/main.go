// Command apibench measures the API at a federation's scale: it seeds a store
// with 100,000 deployments and 5,000,000 log lines through the store's own
// methods, serves it with the real binary, and loads it with wrk beside a bare
// Fiber handler serving a fixed 2 KB JSON on the same machine, printing the
// ratios and the targets. `make bench` runs it; it is not a test.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/crypto/bcrypt"

	"orchestrator/bench/benchkit"
	"orchestrator/store"
)

type config struct {
	bin, toolsDir, out string
	deployments, users int
	lines, bigLines    int
	duration, longRun  time.Duration
	conns, manyConns   int
	keep               bool
}

func main() {
	if addr := os.Getenv(benchkit.BareFiberEnv); addr != "" {
		log.Fatal(benchkit.ServeBareFiber(addr)) // the reference, in its own process
	}
	var c config
	flag.StringVar(&c.bin, "bin", "bin/orchestrator", "the orchestrator binary")
	flag.StringVar(&c.toolsDir, "tools-dir", ".tools", "the toolchain directory (make tools)")
	flag.StringVar(&c.out, "out", "bench/results/apibench.json", "where the figures are written")
	flag.IntVar(&c.deployments, "deployments", 100000, "deployments to seed")
	flag.IntVar(&c.users, "users", 100, "users owning them (round robin)")
	flag.IntVar(&c.lines, "lines", 5000000, "log lines to seed in all")
	flag.IntVar(&c.bigLines, "big-log", 1000000, "lines of the one deployment with a huge log")
	flag.DurationVar(&c.duration, "duration", 15*time.Second, "length of each 50-connection load")
	flag.DurationVar(&c.longRun, "long", 60*time.Second, "length of the 500-connection load")
	flag.IntVar(&c.conns, "conns", 50, "connections of the main loads")
	flag.IntVar(&c.manyConns, "many", 500, "connections of the long load")
	flag.BoolVar(&c.keep, "keep", false, "keep the seeded data directory")
	flag.Parse()
	if _, err := exec.LookPath("wrk"); err != nil {
		log.Fatal("wrk is needed (apt-get install wrk)")
	}
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

// results is what the run measured, written as JSON too.
type results struct {
	Seed        map[string]float64        `json:"seed_seconds"`
	Loads       map[string]*benchkit.Load `json:"loads"`
	Retention   map[string]float64        `json:"retention"`
	RSSIdleMB   float64                   `json:"rss_idle_mb"`
	RSSLoadedMB float64                   `json:"rss_100k_mb"`
}

func run(c config) error {
	res := &results{Seed: map[string]float64{}, Loads: map[string]*benchkit.Load{}, Retention: map[string]float64{}}
	dir, err := os.MkdirTemp("", "apibench-")
	if err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(dir)
	}
	// Idle: the service on an empty data dir.
	empty := filepath.Join(dir, "empty")
	svc, err := startService(c, empty)
	if err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	res.RSSIdleMB = svc.RSSMB()
	svc.Stop()

	data := filepath.Join(dir, "data")
	seed, err := seedStore(c, data, res)
	if err != nil {
		return err
	}
	bare, bareProc, err := benchkit.StartBareFiber()
	if err != nil {
		return err
	}
	defer func() { bareProc.Process.Kill(); bareProc.Wait() }()
	svc, err = startService(c, data)
	if err != nil {
		return err
	}
	defer svc.Stop()
	userTok, err := benchkit.Login(svc.URL, seed.user, "bench-password")
	if err != nil {
		return err
	}
	adminTok, err := benchkit.Login(svc.URL, "admin", "bench-password")
	if err != nil {
		return err
	}
	logs := svc.URL + "/api/v1/deployments/" + seed.bigLog + "/logs"
	lastPage := (c.bigLines + 9) / 10
	steps := []struct {
		name, url, token string
		conns            int
		d                time.Duration
	}{
		{"bare fiber 2KB", bare + "/", "", c.conns, c.duration},
		{"deployments user", svc.URL + "/api/v1/deployments?size=10", userTok, c.conns, c.duration},
		{"deployments admin", svc.URL + "/api/v1/deployments?size=10", adminTok, c.conns, c.duration},
		// Bare Fiber again, right after the lists: this VM's rate moves between
		// runs, and the higher of the two is the reference the lists are held to.
		{"bare fiber 2KB again", bare + "/", "", c.conns, c.duration},
		{"logs first page", logs + "?size=10", adminTok, c.conns, c.duration},
		{"logs last page", fmt.Sprintf("%s?size=10&page=%d", logs, lastPage), adminTok, c.conns, c.duration},
		{"deployments user 500 conns", svc.URL + "/api/v1/deployments?size=10", userTok, c.manyConns, c.longRun},
	}
	for _, s := range steps {
		l, err := benchkit.Wrk(s.url, s.token, s.conns, s.d)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		res.Loads[s.name] = l
		fmt.Printf("%-28s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %d  timeouts %d  non-2xx %d\n",
			s.name, l.RPS, l.P50, l.P99, l.Errors, l.Timeouts, l.Non2xx)
	}
	res.RSSLoadedMB = svc.RSSMB()

	// Retention of every seeded line while admins list deployments.
	type purged struct {
		job map[string]any
		err error
	}
	done := make(chan purged, 1)
	start := time.Now()
	go func() {
		j, err := purgeAll(svc.URL, adminTok)
		done <- purged{j, err}
	}()
	during, err := benchkit.Wrk(svc.URL+"/api/v1/deployments?size=10", adminTok, c.conns, c.duration)
	if err != nil {
		return err
	}
	p := <-done
	if p.err != nil {
		return p.err
	}
	elapsed := time.Since(start).Seconds()
	if f, ok := p.job["finished_at"].(string); ok {
		if ft, err := time.Parse(time.RFC3339Nano, f); err == nil {
			if st, err := time.Parse(time.RFC3339Nano, p.job["started_at"].(string)); err == nil {
				elapsed = ft.Sub(st).Seconds()
			}
		}
	}
	deleted := p.job["progress"].(map[string]any)["deleted"].(float64)
	res.Retention["deleted"] = deleted
	res.Retention["seconds"] = elapsed
	res.Retention["rows_per_second"] = deleted / elapsed
	res.Loads["deployments admin during retention"] = during
	fmt.Printf("%-28s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms\n", "deployments during retention", during.RPS, during.P50, during.P99)
	fmt.Printf("retention: %.0f lines in %.1f s = %.0f rows/s\n", deleted, elapsed, deleted/elapsed)
	fmt.Printf("RSS: idle %.1f MB, with %d deployments after the loads %.1f MB\n", res.RSSIdleMB, c.deployments, res.RSSLoadedMB)
	report(res)
	if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
		return err
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	return os.WriteFile(c.out, out, 0o644)
}

// report prints each target of the issue beside what was measured.
func report(r *results) {
	bare := max(r.Loads["bare fiber 2KB"].RPS, r.Loads["bare fiber 2KB again"].RPS)
	check := func(name string, ok bool, format string, args ...any) {
		mark := "ok  "
		if !ok {
			mark = "MISS"
		}
		fmt.Printf("[%s] %-52s %s\n", mark, name, fmt.Sprintf(format, args...))
	}
	fmt.Println("\ntargets:")
	for _, k := range []string{"deployments user", "deployments admin"} {
		l := r.Loads[k]
		check(k+": >= 50% of bare Fiber req/s", l.RPS >= bare/2, "%.0f / %.0f = %.2f", l.RPS, bare, l.RPS/bare)
		check(k+": p99 < 50 ms", l.P99 < 50, "%.2f ms", l.P99)
	}
	m := r.Loads["deployments user 500 conns"]
	check("500 connections: zero errors and timeouts", m.Errors+m.Timeouts+m.Non2xx == 0, "errors %d, timeouts %d, non-2xx %d", m.Errors, m.Timeouts, m.Non2xx)
	for _, k := range []string{"logs first page", "logs last page"} {
		check(k+": p99 < 50 ms", r.Loads[k].P99 < 50, "%.2f ms", r.Loads[k].P99)
	}
	check("retention >= 50k rows/s", r.Retention["rows_per_second"] >= 50000, "%.0f rows/s", r.Retention["rows_per_second"])
	check("list p99 < 100 ms during retention", r.Loads["deployments admin during retention"].P99 < 100, "%.2f ms", r.Loads["deployments admin during retention"].P99)
	check("RSS idle < 60 MB", r.RSSIdleMB < 60, "%.1f MB", r.RSSIdleMB)
	check("RSS with 100k deployments < 150 MB", r.RSSLoadedMB < 150, "%.1f MB", r.RSSLoadedMB)
}

type seeded struct {
	user   string // a regular user's name
	bigLog string // the deployment with the huge log
}

// seedStore fills a data dir through the store: users, deployments that went
// through their create run (a fifth also deleted), and log lines, all stamped
// 100 days ago so that a 30-day retention takes every line.
func seedStore(c config, dir string, res *results) (*seeded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	past := time.Now().Add(-100 * 24 * time.Hour)
	clock := func() time.Time { return past }
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "orchestrator.db"), store.WithClock(clock))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	hash, _ := bcrypt.GenerateFromPassword([]byte("bench-password"), bcrypt.MinCost)
	admin := &store.User{Username: "admin", PasswordHash: string(hash), IsAdmin: true}
	if err := st.Users.Create(ctx, admin); err != nil {
		return nil, err
	}
	if err := st.Targets.Create(ctx, &store.Target{Name: "local", Kind: "local", Config: []byte("{}")}, nil); err != nil {
		return nil, err
	}
	var users []*store.User
	for i := 0; i < c.users; i++ {
		u := &store.User{Username: fmt.Sprintf("user%03d", i), PasswordHash: string(hash)}
		if err := st.Users.Create(ctx, u); err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	t0 := time.Now()
	ids, err := benchkit.SeedDeployments(ctx, st, users, c.deployments, func(done int) {
		fmt.Printf("seeded %d deployments (%.0f/s)\n", done, float64(done)/time.Since(t0).Seconds())
	})
	if err != nil {
		return nil, err
	}
	res.Seed["deployments"] = time.Since(t0).Seconds()

	t0 = time.Now()
	written := 0
	batch := make([]*store.LogLine, 0, 1000)
	write := func(id string, n int) error {
		for n > 0 {
			batch = batch[:0]
			for j := 0; j < min(n, 1000); j++ {
				batch = append(batch, &store.LogLine{Level: store.LevelInfo, Source: store.SourceTerraform,
					Message: "module.vm[0].terraform_data.server: Creation complete after 0s [id=3f2a9c1e-5b7d-4e8a-9c0f-1a2b3c4d5e6f]"})
			}
			if err := st.Logs.Append(ctx, id, batch...); err != nil {
				return err
			}
			n -= len(batch)
			written += len(batch)
			if written%500000 < len(batch) {
				fmt.Printf("seeded %d log lines (%.0f/s)\n", written, float64(written)/time.Since(t0).Seconds())
			}
		}
		return nil
	}
	big := ids[0]
	if err := write(big, c.bigLines); err != nil {
		return nil, err
	}
	rest := c.lines - c.bigLines
	per := max(rest/(len(ids)-1), 1)
	for _, id := range ids[1:] {
		if rest <= 0 {
			break
		}
		if err := write(id, min(per, rest)); err != nil {
			return nil, err
		}
		rest -= per
	}
	res.Seed["log_lines"] = time.Since(t0).Seconds()
	return &seeded{user: users[0].Username, bigLog: big}, nil
}

// purgeAll queues a purge of every line older than 30 days and follows the job.
// startService serves a data dir with the real binary, as apibench loads it.
func startService(c config, dataDir string) (*benchkit.Service, error) {
	return benchkit.StartService(c.bin, c.toolsDir, dataDir, nil, "--workers", "2", "--load-examples=false")
}

func purgeAll(url, token string) (map[string]any, error) {
	call := func(method, path string) (map[string]any, error) {
		req, _ := http.NewRequest(method, url+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer r.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(r.Body).Decode(&out); err != nil {
			return nil, err
		}
		if r.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %d %v", method, path, r.StatusCode, out)
		}
		return out, nil
	}
	job, err := call("DELETE", "/api/v1/logs?older_than=30d")
	if err != nil {
		return nil, err
	}
	for job["status"] == "queued" || job["status"] == "running" {
		time.Sleep(200 * time.Millisecond)
		if job, err = call("GET", "/api/v1/jobs/"+job["id"].(string)); err != nil {
			return nil, err
		}
	}
	if job["status"] != "succeeded" {
		return nil, fmt.Errorf("purge job: %v", job)
	}
	return job, nil
}

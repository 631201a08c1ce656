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
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/bcrypt"

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
	Seed        map[string]float64 `json:"seed_seconds"`
	Loads       map[string]*load   `json:"loads"`
	Retention   map[string]float64 `json:"retention"`
	RSSIdleMB   float64            `json:"rss_idle_mb"`
	RSSLoadedMB float64            `json:"rss_100k_mb"`
}

func run(c config) error {
	res := &results{Seed: map[string]float64{}, Loads: map[string]*load{}, Retention: map[string]float64{}}
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
	res.RSSIdleMB = svc.rssMB()
	svc.stop()

	data := filepath.Join(dir, "data")
	seed, err := seedStore(c, data, res)
	if err != nil {
		return err
	}
	bare, err := startBareFiber()
	if err != nil {
		return err
	}
	svc, err = startService(c, data)
	if err != nil {
		return err
	}
	defer svc.stop()
	userTok, err := login(svc.url, seed.user, "bench-password")
	if err != nil {
		return err
	}
	adminTok, err := login(svc.url, "admin", "bench-password")
	if err != nil {
		return err
	}
	logs := svc.url + "/api/v1/deployments/" + seed.bigLog + "/logs"
	lastPage := (c.bigLines + 9) / 10
	steps := []struct {
		name, url, token string
		conns            int
		d                time.Duration
	}{
		{"bare fiber 2KB", bare + "/", "", c.conns, c.duration},
		{"deployments user", svc.url + "/api/v1/deployments?size=10", userTok, c.conns, c.duration},
		{"deployments admin", svc.url + "/api/v1/deployments?size=10", adminTok, c.conns, c.duration},
		{"logs first page", logs + "?size=10", adminTok, c.conns, c.duration},
		{"logs last page", fmt.Sprintf("%s?size=10&page=%d", logs, lastPage), adminTok, c.conns, c.duration},
		{"deployments user 500 conns", svc.url + "/api/v1/deployments?size=10", userTok, c.manyConns, c.longRun},
	}
	for _, s := range steps {
		l, err := wrk(s.url, s.token, s.conns, s.d)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		res.Loads[s.name] = l
		fmt.Printf("%-28s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %d  timeouts %d  non-2xx %d\n",
			s.name, l.RPS, l.P50, l.P99, l.Errors, l.Timeouts, l.Non2xx)
	}
	res.RSSLoadedMB = svc.rssMB()

	// Retention of every seeded line while admins list deployments.
	type purged struct {
		job map[string]any
		err error
	}
	done := make(chan purged, 1)
	start := time.Now()
	go func() {
		j, err := purgeAll(svc.url, adminTok)
		done <- purged{j, err}
	}()
	during, err := wrk(svc.url+"/api/v1/deployments?size=10", adminTok, c.conns, c.duration)
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
	bare := r.Loads["bare fiber 2KB"].RPS
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
	template, terraform := sampleTexts()
	t0 := time.Now()
	var ids []string
	for i := 0; i < c.deployments; i++ {
		u := users[i%len(users)]
		d := &store.Deployment{Template: template, Target: "local", Inputs: json.RawMessage(`{"num_cpus": 2, "mem_size": "4 GB"}`),
			Description: fmt.Sprintf("deployment %d of %s", i, u.Username), Labels: map[string]string{"project": fmt.Sprintf("p%d", i%7)},
			Owners: []string{u.ID}, Terraform: terraform, TFVars: `{"orc_deployment_id": "x"}`}
		if _, err := st.Deployments.Create(ctx, d, u.ID); err != nil {
			return nil, err
		}
		run, err := st.Runs.Claim(ctx, "seed", time.Minute)
		if err != nil || run == nil {
			return nil, fmt.Errorf("claim the seeded create run: %v", err)
		}
		if err := st.Runs.Finish(ctx, run.ID, store.Result{Status: store.RunSucceeded, Outputs: json.RawMessage(`{"public_ip": "172.24.4.10"}`)}); err != nil {
			return nil, err
		}
		if i%5 == 4 {
			if _, err := st.Deployments.Enqueue(ctx, d.ID, store.Request{Kind: store.RunDelete, CreatedBy: u.ID}); err != nil {
				return nil, err
			}
			run, err := st.Runs.Claim(ctx, "seed", time.Minute)
			if err != nil || run == nil {
				return nil, fmt.Errorf("claim the seeded delete run: %v", err)
			}
			if err := st.Runs.Finish(ctx, run.ID, store.Result{Status: store.RunSucceeded}); err != nil {
				return nil, err
			}
		}
		ids = append(ids, d.ID)
		if (i+1)%10000 == 0 {
			fmt.Printf("seeded %d deployments (%.0f/s)\n", i+1, float64(i+1)/time.Since(t0).Seconds())
		}
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

// sampleTexts are a template and generated Terraform of a realistic size.
func sampleTexts() (string, string) {
	template := "tosca_definitions_version: tosca_simple_yaml_1_3\ndescription: bench\ntopology_template:\n  node_templates:\n" +
		strings.Repeat("    # a comment line of a realistic template, about sixty characters long\n", 30) +
		"    vm: { type: tosca.nodes.Compute }\n"
	terraform := `{"module": {"vm": {"source": "./modules/compute", "count": 1}}, "pad": "` + strings.Repeat("x", 5000) + `"}`
	return template, terraform
}

// service is the real binary serving a data dir.
type service struct {
	cmd *exec.Cmd
	url string
}

func startService(c config, dataDir string) (*service, error) {
	tf, err := os.ReadFile(filepath.Join(c.toolsDir, "terraform-path"))
	if err != nil {
		return nil, fmt.Errorf("run `make tools` first: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(c.bin, "serve", "--listen", addr, "--data-dir", dataDir, "--terraform-path", strings.TrimSpace(string(tf)),
		"--providers-dir", filepath.Join(c.toolsDir, "providers"), "--admin-password", "bench-password", "--workers", "2",
		"--load-examples=false", "--log-format", "json", "--login-max-failures", "1000")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &service{cmd: cmd, url: "http://" + addr}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if r, err := http.Get(s.url + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return s, nil
			}
		}
	}
	s.stop()
	return nil, fmt.Errorf("the service did not get ready")
}

func (s *service) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
	}
}

func (s *service) rssMB() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		return -1
	}
	kb, _ := strconv.ParseFloat(string(m[1]), 64)
	return kb / 1024
}

// startBareFiber serves a fixed 2 KB JSON: the ceiling a Fiber handler reaches here.
func startBareFiber() (string, error) {
	body := []byte(`{"items":[` + strings.TrimSuffix(strings.Repeat(`{"id":"3f2a9c1e-5b7d-4e8a-9c0f-1a2b3c4d5e6f","status":"CREATE_COMPLETE","description":"a deployment"},`, 19), ",") + `]}`)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go app.Listener(ln)
	return "http://" + ln.Addr().String(), nil
}

func login(url, user, password string) (string, error) {
	body := strings.NewReader(fmt.Sprintf(`{"username": %q, "password": %q}`, user, password))
	r, err := http.Post(url+"/api/v1/auth/login", "application/json", body)
	if err != nil {
		return "", err
	}
	defer r.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(r.Body).Decode(&out); err != nil || out.Token == "" {
		return "", fmt.Errorf("login %s: %d %v", user, r.StatusCode, err)
	}
	return out.Token, nil
}

// purgeAll queues a purge of every line older than 30 days and follows the job.
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

// load is what one wrk run measured; latencies in milliseconds.
type load struct {
	RPS      float64 `json:"requests_per_second"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Errors   int     `json:"socket_errors"`
	Timeouts int     `json:"timeouts"`
	Non2xx   int     `json:"non_2xx"`
}

func wrk(url, token string, conns int, d time.Duration) (*load, error) {
	args := []string{"-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", int(d.Seconds())), "--latency", "--timeout", "2s"}
	if token != "" {
		args = append(args, "-H", "Authorization: Bearer "+token)
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	return parseWrk(string(out))
}

var (
	rpsRE    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	pctRE    = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	errorsRE = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	non2xxRE = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func parseWrk(out string) (*load, error) {
	l := &load{}
	m := rpsRE.FindStringSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("no Requests/sec in wrk's output:\n%s", out)
	}
	l.RPS, _ = strconv.ParseFloat(m[1], 64)
	for _, p := range pctRE.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(p[2], 64)
		switch p[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if p[1] == "50" {
			l.P50 = v
		} else {
			l.P99 = v
		}
	}
	if e := errorsRE.FindStringSubmatch(out); e != nil {
		for _, s := range e[1:4] {
			n, _ := strconv.Atoi(s)
			l.Errors += n
		}
		l.Timeouts, _ = strconv.Atoi(e[4])
	}
	if n := non2xxRE.FindStringSubmatch(out); n != nil {
		l.Non2xx, _ = strconv.Atoi(n[1])
	}
	return l, nil
}

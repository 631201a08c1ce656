// Command replicabench measures the service as several replicas on one
// PostgreSQL database (a throwaway cluster from the machine's installation):
// the throughput of creating deployments with one replica and with two (the
// same total of workers), beside one process on SQLite; and GET
// /api/v1/deployments requests per second on SQLite and on PostgreSQL (one
// replica, and two loaded together) over the same seeded deployments.
// `make bench` runs it; it is not a test.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"orchestrator/bench/benchkit"
	"orchestrator/store"
	"orchestrator/store/pgtest"
)

type config struct {
	bin, toolsDir, out string
	deployments        int
	workers            int
	seed               int
	duration           time.Duration
	conns              int
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "bin/orchestrator", "the orchestrator binary")
	flag.StringVar(&c.toolsDir, "tools-dir", ".tools", "the toolchain directory (make tools)")
	flag.StringVar(&c.out, "out", "bench/results/replicabench.json", "where the figures are written")
	flag.IntVar(&c.deployments, "deployments", 100, "deployments created in each throughput run")
	flag.IntVar(&c.workers, "workers", 4, "Terraform workers in all, shared out among the replicas")
	flag.IntVar(&c.seed, "seed", 100000, "deployments seeded for the API loads")
	flag.DurationVar(&c.duration, "duration", 15*time.Second, "length of each API load")
	flag.IntVar(&c.conns, "conns", 50, "connections of the API loads")
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
	Throughput map[string]*throughput       `json:"throughput"`
	Loads      map[string]*benchkit.Load    `json:"loads"`
	Seed       map[string]float64           `json:"seed_seconds"`
	Extra      map[string]map[string]string `json:"setup"`
}

type throughput struct {
	Deployments int     `json:"deployments"`
	Seconds     float64 `json:"seconds"`
	PerMinute   float64 `json:"deployments_per_minute"`
	Failed      int     `json:"failed"`
	PerReplica  []int   `json:"runs_per_replica"`
}

func run(c config) error {
	res := &results{Throughput: map[string]*throughput{}, Loads: map[string]*benchkit.Load{}, Seed: map[string]float64{},
		Extra: map[string]map[string]string{}}
	dir, err := os.MkdirTemp("", "replicabench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pg, err := pgtest.Start()
	if err != nil {
		return err
	}
	defer pg.Stop()
	key := make([]byte, 32)
	rand.Read(key)
	keyFile := filepath.Join(dir, "service.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		return err
	}
	fmt.Printf("throughput: %d deployments (single-vm, local target), %d workers in all\n", c.deployments, c.workers)
	for _, setup := range []struct {
		name     string
		postgres bool
		replicas int
	}{{"sqlite, 1 process", false, 1}, {"postgres, 1 replica", true, 1}, {"postgres, 2 replicas", true, 2}} {
		if c.deployments == 0 {
			break // -deployments 0: the API loads only
		}
		dsn := ""
		if setup.postgres {
			if dsn, err = pg.CreateDatabase(context.Background()); err != nil {
				return err
			}
		}
		t, err := throughputRun(c, filepath.Join(dir, fmt.Sprintf("tp%d", len(res.Throughput))), dsn, keyFile, setup.replicas)
		if err != nil {
			return fmt.Errorf("%s: %w", setup.name, err)
		}
		res.Throughput[setup.name] = t
		fmt.Printf("  %-22s %5.1f s  %6.1f deployments/min  failed %d  runs per replica %v\n", setup.name, t.Seconds, t.PerMinute, t.Failed, t.PerReplica)
	}

	fmt.Printf("\nGET /api/v1/deployments?size=10 over %d seeded deployments, %d connections, %s each\n", c.seed, c.conns, c.duration)
	sqlitePath := filepath.Join(dir, "api-sqlite", "orchestrator.db")
	pgDSN, err := pg.CreateDatabase(context.Background())
	if err != nil {
		return err
	}
	for _, target := range []struct{ name, dsn string }{{"sqlite", sqlitePath}, {"postgres", pgDSN}} {
		t0 := time.Now()
		if err := seed(c, target.dsn); err != nil {
			return fmt.Errorf("seed %s: %w", target.name, err)
		}
		res.Seed[target.name] = time.Since(t0).Seconds()
		fmt.Printf("  seeded %s in %.0f s\n", target.name, res.Seed[target.name])
	}
	for _, setup := range []struct {
		name     string
		dsn      string
		replicas int
	}{{"sqlite", sqlitePath, 1}, {"postgres 1 replica", pgDSN, 1}, {"postgres 2 replicas", pgDSN, 2}} {
		if err := apiRun(c, dir, setup.name, setup.dsn, keyFile, setup.replicas, res); err != nil {
			return fmt.Errorf("%s: %w", setup.name, err)
		}
	}
	report(res)
	if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
		return err
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	return os.WriteFile(c.out, out, 0o644)
}

// startReplicas starts n services on one database (a SQLite path when dsn is
// one: then n must be 1), sharing the workers.
func startReplicas(c config, dir, dsn, keyFile string, n, workers int, extra ...string) ([]*benchkit.Service, error) {
	var svcs []*benchkit.Service
	for i := 0; i < n; i++ {
		data := filepath.Join(dir, fmt.Sprintf("r%d", i))
		args := append([]string{"--workers", fmt.Sprint(max(workers/n, 1)), "--replica-id", fmt.Sprintf("r%d", i)}, extra...)
		if store.IsPostgres(dsn) {
			args = append(args, "--database", dsn, "--service-key-file", keyFile)
		} else if dsn != "" {
			args = append(args, "--database", dsn)
		}
		svc, err := benchkit.StartService(c.bin, c.toolsDir, data, nil, args...)
		if err != nil {
			stopAll(svcs)
			return nil, err
		}
		svcs = append(svcs, svc)
	}
	return svcs, nil
}

func stopAll(svcs []*benchkit.Service) {
	var wg sync.WaitGroup
	for _, s := range svcs {
		wg.Add(1)
		go func(s *benchkit.Service) { defer wg.Done(); s.Stop() }(s)
	}
	wg.Wait()
}

// throughputRun submits the deployments alternately to each replica at once
// and times them until every one has left CREATE_IN_PROGRESS.
func throughputRun(c config, dir, dsn, keyFile string, replicas int) (*throughput, error) {
	svcs, err := startReplicas(c, dir, dsn, keyFile, replicas, c.workers)
	if err != nil {
		return nil, err
	}
	defer stopAll(svcs)
	url := svcs[0].URL
	tok, err := benchkit.Login(url, "admin", "bench-password")
	if err != nil {
		return nil, err
	}
	list, err := benchkit.Call(url, "GET", "/api/v1/templates?name=single-vm", tok, nil)
	if err != nil {
		return nil, err
	}
	tmpl := list["items"].([]any)[0].(map[string]any)["id"].(string)
	t0 := time.Now()
	for i := 0; i < c.deployments; i++ {
		if _, err := benchkit.Call(svcs[i%len(svcs)].URL, "POST", "/api/v1/deployments", tok,
			map[string]any{"template_id": tmpl, "description": fmt.Sprintf("bench %d", i)}); err != nil {
			return nil, err
		}
	}
	for {
		page, err := benchkit.Call(url, "GET", "/api/v1/deployments?status=CREATE_IN_PROGRESS&size=1", tok, nil)
		if err != nil {
			return nil, err
		}
		if page["page"].(map[string]any)["total_items"].(float64) == 0 {
			break
		}
		if time.Since(t0) > 30*time.Minute {
			return nil, fmt.Errorf("deployments still in progress after 30 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t := &throughput{Deployments: c.deployments, Seconds: time.Since(t0).Seconds(), PerReplica: make([]int, replicas)}
	t.PerMinute = float64(c.deployments) / t.Seconds * 60
	failed, err := benchkit.Call(url, "GET", "/api/v1/deployments?status=CREATE_FAILED&size=1", tok, nil)
	if err != nil {
		return nil, err
	}
	t.Failed = int(failed["page"].(map[string]any)["total_items"].(float64))
	// Who ran what: every run's worker names its replica.
	st, err := store.Open(context.Background(), dbOf(dir, dsn))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ids, _, err := st.Deployments.List(context.Background(), store.DeploymentFilter{}, nil, store.Page{Number: 1, Size: 1000})
	if err != nil {
		return nil, err
	}
	for _, d := range ids {
		runs, _, _ := st.Runs.List(context.Background(), d.ID, store.Page{Number: 1, Size: 10})
		for _, r := range runs {
			var i int
			if _, err := fmt.Sscanf(r.Worker, "r%d/", &i); err == nil && i < replicas {
				t.PerReplica[i]++
			}
		}
	}
	return t, nil
}

// dbOf is the database a throughput run used.
func dbOf(dir, dsn string) string {
	if dsn != "" {
		return dsn
	}
	return filepath.Join(dir, "r0", "orchestrator.db")
}

// seed fills a database through the store: an admin, 100 users, c.seed
// deployments through their create run (a fifth also deleted).
func seed(c config, dsn string) error {
	if !store.IsPostgres(dsn) {
		if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
			return err
		}
	}
	ctx := context.Background()
	past := time.Now().Add(-100 * 24 * time.Hour)
	st, err := store.Open(ctx, dsn, store.WithClock(func() time.Time { return past }))
	if err != nil {
		return err
	}
	defer st.Close()
	hash, _ := bcrypt.GenerateFromPassword([]byte("bench-password"), bcrypt.MinCost)
	if err := st.Users.Create(ctx, &store.User{Username: "admin", PasswordHash: string(hash), IsAdmin: true}); err != nil {
		return err
	}
	if err := st.Targets.Create(ctx, &store.Target{Name: "local", Kind: "local", Config: []byte("{}")}, nil); err != nil {
		return err
	}
	var users []*store.User
	for i := 0; i < 100; i++ {
		u := &store.User{Username: fmt.Sprintf("user%03d", i), PasswordHash: string(hash)}
		if err := st.Users.Create(ctx, u); err != nil {
			return err
		}
		users = append(users, u)
	}
	t0 := time.Now()
	_, err = benchkit.SeedDeployments(ctx, st, users, c.seed, func(done int) {
		fmt.Printf("    %d deployments (%.0f/s)\n", done, float64(done)/time.Since(t0).Seconds())
	})
	return err
}

// apiRun serves the seeded database with replicas and loads GET /deployments
// as a user and as an admin; with several replicas, each gets its own wrk at
// once and the rates add up.
func apiRun(c config, dir, name, dsn, keyFile string, replicas int, res *results) error {
	svcs, err := startReplicas(c, filepath.Join(dir, "api-"+name), dsn, keyFile, replicas, replicas, "--load-examples=false")
	if err != nil {
		return err
	}
	defer stopAll(svcs)
	for _, who := range []string{"user000", "admin"} {
		tok, err := benchkit.Login(svcs[0].URL, who, "bench-password")
		if err != nil {
			return err
		}
		loads := make([]*benchkit.Load, len(svcs))
		errs := make([]error, len(svcs))
		var wg sync.WaitGroup
		for i, s := range svcs {
			wg.Add(1)
			go func(i int, s *benchkit.Service) {
				defer wg.Done()
				loads[i], errs[i] = benchkit.Wrk(s.URL+"/api/v1/deployments?size=10", tok, c.conns/len(svcs), c.duration)
			}(i, s)
		}
		wg.Wait()
		sum := &benchkit.Load{}
		for i, l := range loads {
			if errs[i] != nil {
				return errs[i]
			}
			sum.RPS += l.RPS
			sum.P50 = max(sum.P50, l.P50)
			sum.P99 = max(sum.P99, l.P99)
			sum.Errors += l.Errors
			sum.Timeouts += l.Timeouts
			sum.Non2xx += l.Non2xx
		}
		key := name + ", " + map[string]string{"user000": "user", "admin": "admin"}[who]
		res.Loads[key] = sum
		fmt.Printf("  %-32s %8.0f req/s  p50 %6.2f ms  p99 %7.2f ms  errors %d  non-2xx %d\n", key, sum.RPS, sum.P50, sum.P99, sum.Errors+sum.Timeouts, sum.Non2xx)
	}
	return nil
}

func report(r *results) {
	fmt.Println("\nsummary:")
	if one, two := r.Throughput["postgres, 1 replica"], r.Throughput["postgres, 2 replicas"]; one != nil && two != nil {
		fmt.Printf("  throughput, 2 replicas vs 1 (same workers): %.2fx (%.1f vs %.1f deployments/min)\n", two.PerMinute/one.PerMinute, two.PerMinute, one.PerMinute)
		fmt.Printf("  throughput, postgres 1 replica vs sqlite: %.2fx\n", one.PerMinute/r.Throughput["sqlite, 1 process"].PerMinute)
	}
	for _, who := range []string{"user", "admin"} {
		s, p1, p2 := r.Loads["sqlite, "+who], r.Loads["postgres 1 replica, "+who], r.Loads["postgres 2 replicas, "+who]
		fmt.Printf("  GET /deployments as %-5s postgres/sqlite %.2fx, 2 replicas/sqlite %.2fx\n", who, p1.RPS/s.RPS, p2.RPS/s.RPS)
	}
}

// Package benchkit is what the API and replica benchmarks share: the real
// binary started as a service, logins, seeding deployments through the store,
// and load with wrk. It is used by `make bench` only, never by the service.
package benchkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

	"orchestrator/store"
)

// Service is the real binary serving a data dir.
type Service struct {
	Cmd *exec.Cmd
	URL string
}

// StartService starts bin serving dataDir with the toolchain of toolsDir and
// the admin password "bench-password", plus extra flags, and waits until it
// is ready. Its output goes to out (nil: discarded).
func StartService(bin, toolsDir, dataDir string, out io.Writer, extra ...string) (*Service, error) {
	tf, err := os.ReadFile(filepath.Join(toolsDir, "terraform-path"))
	if err != nil {
		return nil, fmt.Errorf("run `make tools` first: %w", err)
	}
	addr, err := freeAddress()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--listen", addr, "--data-dir", dataDir, "--terraform-path", strings.TrimSpace(string(tf)),
		"--providers-dir", filepath.Join(toolsDir, "providers"), "--admin-password", "bench-password",
		"--log-format", "json", "--login-max-failures", "1000"}, extra...)
	cmd := exec.Command(bin, args...)
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Service{Cmd: cmd, URL: "http://" + addr}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if r, err := http.Get(s.URL + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return s, nil
			}
		}
	}
	s.Stop()
	return nil, fmt.Errorf("the service did not get ready")
}

// Stop stops the service gracefully (killed after 30 s).
func (s *Service) Stop() {
	s.Cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.Cmd.Process.Kill()
	}
}

// RSSMB is the service's resident memory in megabytes.
func (s *Service) RSSMB() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Cmd.Process.Pid))
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

// Call sends a JSON request and decodes the JSON answer; a status of 300 or
// more is an error.
func Call(url, method, path, token string, body any) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	}
	req, _ := http.NewRequest(method, url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer r.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(r.Body).Decode(&out); err != nil && r.StatusCode != http.StatusNoContent {
		return nil, fmt.Errorf("%s %s: %d: %v", method, path, r.StatusCode, err)
	}
	if r.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %d %v", method, path, r.StatusCode, out)
	}
	return out, nil
}

// Login returns a session token.
func Login(url, user, password string) (string, error) {
	out, err := Call(url, "POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": password})
	if err != nil {
		return "", err
	}
	tok, _ := out["token"].(string)
	if tok == "" {
		return "", fmt.Errorf("login %s: no token", user)
	}
	return tok, nil
}

// SeedDeployments creates n deployments owned round robin by users, each
// through its create run (a fifth also deleted), like a federation's years of
// history, with a template and generated Terraform of a realistic size. It
// returns their ids.
func SeedDeployments(ctx context.Context, st *store.Store, users []*store.User, n int, progress func(done int)) ([]string, error) {
	template, terraform := SampleTexts()
	var ids []string
	for i := 0; i < n; i++ {
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
		if progress != nil && (i+1)%10000 == 0 {
			progress(i + 1)
		}
	}
	return ids, nil
}

// SampleTexts are a template and generated Terraform of a realistic size.
func SampleTexts() (string, string) {
	template := "tosca_definitions_version: tosca_simple_yaml_1_3\ndescription: bench\ntopology_template:\n  node_templates:\n" +
		strings.Repeat("    # a comment line of a realistic template, about sixty characters long\n", 30) +
		"    vm: { type: tosca.nodes.Compute }\n"
	terraform := `{"module": {"vm": {"source": "./modules/compute", "count": 1}}, "pad": "` + strings.Repeat("x", 5000) + `"}`
	return template, terraform
}

// BareFiberEnv names the variable that turns a benchmark binary into the bare
// Fiber server (see StartBareFiber): its value is the address to listen on.
const BareFiberEnv = "BENCHKIT_BARE_FIBER"

// ServeBareFiber serves a fixed 2 KB JSON on addr until the process ends: the
// ceiling a Fiber handler reaches on this machine.
func ServeBareFiber(addr string) error {
	body := []byte(`{"items":[` + strings.TrimSuffix(strings.Repeat(`{"id":"3f2a9c1e-5b7d-4e8a-9c0f-1a2b3c4d5e6f","status":"CREATE_COMPLETE","description":"a deployment"},`, 19), ",") + `]}`)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(body)
	})
	return app.Listen(addr)
}

// StartBareFiber starts the bare Fiber server in a process of its own, like
// the service it is compared with: the benchmark's own heap (it seeded
// millions of rows) and goroutines stay out of the reference. The running
// binary must call ServeBareFiber when BareFiberEnv is set. It returns the
// server's URL and the process, to be killed by the caller.
func StartBareFiber() (string, *exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	addr, err := freeAddress()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), BareFiberEnv+"="+addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	url := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r, err := http.Get(url + "/"); err == nil {
			r.Body.Close()
			return url, cmd, nil
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return "", nil, fmt.Errorf("the bare Fiber server did not start")
}

// freeAddress is a loopback address nothing listens on now.
func freeAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Load is what one wrk run measured; latencies in milliseconds.
type Load struct {
	RPS      float64 `json:"requests_per_second"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Errors   int     `json:"socket_errors"`
	Timeouts int     `json:"timeouts"`
	Non2xx   int     `json:"non_2xx"`
}

// Wrk loads url with conns connections for d.
func Wrk(url, token string, conns int, d time.Duration) (*Load, error) {
	args := []string{"-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", int(d.Seconds())), "--latency", "--timeout", "2s"}
	if token != "" {
		args = append(args, "-H", "Authorization: Bearer "+token)
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	return ParseWrk(string(out))
}

var (
	rpsRE    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	pctRE    = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	errorsRE = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	non2xxRE = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// ParseWrk reads wrk's report.
func ParseWrk(out string) (*Load, error) {
	l := &Load{}
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

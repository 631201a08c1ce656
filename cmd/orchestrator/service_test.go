package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"orchestrator/jobs/toolchain/tftest"
	"orchestrator/store/clocktest"
)

// binary is the orchestrator binary under test: ORCHESTRATOR_BIN (make test
// passes bin/orchestrator), or one built for the test.
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ORCHESTRATOR_BIN"); p != "" {
		return p
	}
	binOnce.Do(func() {
		dir, _ := os.MkdirTemp("", "orchestrator-bin")
		binPath = filepath.Join(dir, "orchestrator")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// service is the orchestrator running as a separate process.
type service struct {
	t       *testing.T
	cmd     *exec.Cmd
	url     string
	dataDir string
	args    []string
	out     *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startService(t *testing.T, dataDir string, extra ...string) *service {
	t.Helper()
	tc := tftest.Find(t)
	addr := freePort(t)
	s := &service{t: t, url: "http://" + addr, dataDir: dataDir, out: &lockedBuffer{}}
	s.args = append([]string{"serve", "--listen", addr, "--data-dir", dataDir, "--terraform-path", tc.Terraform,
		"--providers-dir", tc.ProvidersDir, "--admin-password", "admin-secret-pw", "--workers", "2",
		"--clock-offset", clocktest.Offset().String()}, extra...)
	s.start()
	return s
}

func (s *service) start() {
	s.t.Helper()
	s.cmd = exec.Command(binary(s.t), s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + s.dataDir}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { s.stop(syscall.SIGTERM) })
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		res, err := http.Get(s.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
	}
	s.t.Fatalf("the service did not get ready:\n%s", s.out.String())
}

func (s *service) stop(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// api calls the service and decodes the JSON answer.
func (s *service) api(method, path, token string, body any, want int) map[string]any {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", method, path, err, s.out.String())
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, data)
	}
	out := map[string]any{}
	json.Unmarshal(data, &out)
	return out
}

func (s *service) login(user, password string) string {
	return s.api("POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": password}, 200)["token"].(string)
}

// waitSettled waits until a deployment leaves its in-progress status.
func (s *service) waitSettled(id, token string) map[string]any {
	s.t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		d := s.api("GET", "/api/v1/deployments/"+id, token, nil, 200)
		if st := d["status"].(string); !strings.HasSuffix(st, "_IN_PROGRESS") {
			return d
		}
	}
	s.t.Fatalf("deployment %s did not settle", id)
	return nil
}

// terraformProcesses lists Terraform processes working in dir.
func terraformProcesses(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || !strings.HasPrefix(cwd, dir) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), "terraform") {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

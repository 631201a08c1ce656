package ui_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
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

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/ssh"

	"orchestrator/jobs/toolchain/tftest"
)

// chromiumPath is Debian's Chromium. `make test` installs it when missing
// (apt-get); without it the browser tests fail, they never skip.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("ORCHESTRATOR_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is not installed: run `apt-get update && apt-get install -y chromium` (make test does it), or set ORCHESTRATOR_CHROMIUM")
	return ""
}

// service is the orchestrator binary, serving on loopback with a fresh data dir,
// real Terraform and the simulated local target.
type service struct {
	url string
	out *lockedBuffer
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

const adminPassword = "admin-secret-pw"

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// binary is ORCHESTRATOR_BIN (make test passes bin/orchestrator), or one built
// once for this test binary.
func binary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ORCHESTRATOR_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "orchestrator-ui-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "orchestrator")
		if out, err := exec.Command("go", "build", "-o", builtBin, "orchestrator/cmd/orchestrator").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build the service: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func startService(t *testing.T, extra ...string) *service {
	t.Helper()
	tc := tftest.Find(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dataDir := t.TempDir()
	s := &service{url: "http://" + addr, out: &lockedBuffer{}}
	args := append([]string{"serve", "--listen", addr, "--data-dir", dataDir, "--terraform-path", tc.Terraform,
		"--providers-dir", tc.ProvidersDir, "--admin-password", adminPassword, "--workers", "2"}, extra...)
	cmd := exec.Command(binary(t), args...)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dataDir}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(s.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
	}
	t.Fatalf("the service did not get ready:\n%s", s.out.String())
	return nil
}

// apiGet reads the API directly (to check what the browser did).
func (s *service) apiGet(t *testing.T, path, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]any{}
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// browser is one headless Chromium; tabs are pages with their own session.
type browser struct {
	t        *testing.T
	ctx      context.Context
	base     string
	shotsDir string
	problems *lockedBuffer
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		// Without these Chromium keeps trying to reach Google's services, which
		// floods a closed network and slows everything down.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base, shotsDir: screenshotsDir(t), problems: &lockedBuffer{}}
	b.watch(ctx)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return b
}

// tab opens another tab in the same browser: its own sessionStorage, so its
// own signed-in user.
func (b *browser) tab() *browser {
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	nb := *b
	nb.ctx = ctx
	nb.watch(ctx)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		b.t.Fatalf("new tab: %v", err)
	}
	return &nb
}

// watch records uncaught exceptions and security errors (a CSP violation is
// one): the test fails with them at the end.
func (b *browser) watch(ctx context.Context) {
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			text := m.String()
			if m.IsException() || strings.Contains(text, "Content Security Policy") || m.Source == "security" {
				fmt.Fprintln(b.problems, text)
			}
		}
	}()
}

func (b *browser) checkConsole() {
	b.t.Helper()
	if p := b.problems.String(); p != "" {
		b.t.Errorf("the page reported errors:\n%s", p)
	}
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v\npage: %s", err, b.location())
	}
}

func (b *browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

func (b *browser) visit(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

// eval runs JavaScript and decodes its result.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// wait polls a JavaScript condition until it holds.
func (b *browser) wait(what, js string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		// Short polls, so that a navigation (sign-in through the identity
		// provider, a visit), which replaces the page's JavaScript context under
		// a poll, costs a moment and not the whole timeout.
		chunk := min(2*time.Second, time.Until(deadline))
		if _, err = chromedp.Run(ctx, chromedp.Poll[bool]("!!("+js+")", chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(chunk))); err == nil {
			return
		}
		if ctx.Err() != nil {
			break
		}
	}
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main') ? document.querySelector('main').innerText.slice(0, 3000) : ''`))
	b.t.Fatalf("waiting for %s: %v\npage %s shows:\n%s", what, err, b.location(), text)
}

// waitText waits until an element matching sel contains text.
func (b *browser) waitText(sel, text string) {
	b.t.Helper()
	b.wait(fmt.Sprintf("%q in %s", text, sel), fmt.Sprintf(`[...document.querySelectorAll(%s)].some(e => e.textContent.includes(%s))`, jsString(sel), jsString(text)), 30*time.Second)
}

func (b *browser) waitFor(sel string) {
	b.t.Helper()
	b.wait(sel, fmt.Sprintf(`document.querySelector(%s)`, jsString(sel)), 30*time.Second)
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.waitFor(sel)
	b.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// fill types into a field like a user: focus, clear, type.
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	b.waitFor(sel)
	eval[bool](b, fmt.Sprintf(`(() => { const el = document.querySelector(%s); el.focus(); el.value = ''; return true })()`, jsString(sel)))
	b.do(chromedp.SendKeys(chromedp.CSS(sel), value, chromedp.NodeVisible))
}

// setValue sets a control's value at once and tells the page (selects, long text).
func (b *browser) setValue(sel, value string) {
	b.t.Helper()
	b.waitFor(sel)
	eval[bool](b, fmt.Sprintf(`(() => { const el = document.querySelector(%s); el.value = %s;
		el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, jsString(sel), jsString(value)))
}

func (b *browser) path() string {
	return eval[string](b, `location.pathname + location.search`)
}

// shot saves full-page screenshots of the current page at laptop and phone widths.
func (b *browser) shot(name string) {
	b.t.Helper()
	// Toasts sit over the content of a full-page capture: hide them meanwhile.
	eval[bool](b, `(document.getElementById('toasts').style.visibility = 'hidden') === 'hidden'`)
	defer eval[bool](b, `(document.getElementById('toasts').style.visibility = '') === ''`)
	for _, w := range []int64{1280, 390} {
		opts := []chromedp.EmulateViewportOption{}
		if w < 600 {
			opts = append(opts, chromedp.EmulateMobile)
		}
		b.do(chromedp.EmulateViewport(w, 900, opts...))
		eval[bool](b, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(b.shotsDir, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do(chromedp.EmulateViewport(1280, 900))
}

func jsString(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}

// screenshotsDir is bench/results/screenshots at the repository root (git-ignored).
func screenshotsDir(t *testing.T) string {
	wd, _ := os.Getwd()
	for dir := wd; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			out := filepath.Join(dir, "bench", "results", "screenshots")
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatal("no go.mod above the test directory")
	return ""
}

func sshPublicKey(t *testing.T, comment string) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " " + comment
}

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"orchestrator/store"
)

// callbackRequest is one request a callback receiver got.
type callbackRequest struct {
	path, contentType, userAgent string
	body                         map[string]any
}

// callbackSink is a receiver on loopback, standing in for the dashboard's
// /callback. Its paths behave differently: /flaky fails once, /gone answers
// 410, /down 500, /redirect-in and /redirect-out redirect (307) to an allowed
// and a disallowed host, /redirect-get with a 302; anything else answers 200.
type callbackSink struct {
	srv  *httptest.Server
	url  string
	got  chan callbackRequest
	mu   sync.Mutex
	seen map[string]int
}

func newCallbackSink(t *testing.T) *callbackSink {
	s := &callbackSink{got: make(chan callbackRequest, 100), seen: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		json.Unmarshal(data, &body)
		s.mu.Lock()
		s.seen[r.URL.Path]++
		n := s.seen[r.URL.Path]
		s.mu.Unlock()
		if r.Method != "POST" {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		s.got <- callbackRequest{path: r.URL.Path, contentType: r.Header.Get("Content-Type"), userAgent: r.Header.Get("User-Agent"), body: body}
		switch r.URL.Path {
		case "/flaky":
			if n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		case "/gone":
			w.WriteHeader(http.StatusGone)
			return
		case "/down":
			w.WriteHeader(http.StatusInternalServerError)
			return
		case "/redirect-in":
			http.Redirect(w, r, s.url+"/ok", http.StatusTemporaryRedirect)
			return
		case "/redirect-out":
			http.Redirect(w, r, "http://hooks.example.org/cb", http.StatusTemporaryRedirect)
			return
		case "/redirect-get":
			http.Redirect(w, r, s.url+"/ok", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	s.url = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

func (s *callbackSink) next(t *testing.T) callbackRequest {
	t.Helper()
	select {
	case r := <-s.got:
		return r
	case <-time.After(3 * time.Minute):
		t.Fatal("no callback arrived")
	}
	return callbackRequest{}
}

// quiet checks that nothing arrives for a while (the dispatcher polls every 20ms).
func (s *callbackSink) quiet(t *testing.T) {
	t.Helper()
	select {
	case r := <-s.got:
		t.Fatalf("unexpected callback to %s", r.path)
	case <-time.After(400 * time.Millisecond):
	}
}

// settle moves a deployment out of CREATE_IN_PROGRESS as a worker would: its
// create run is claimed and finished.
func settle(t *testing.T, app *testApp, id string, status store.RunStatus) {
	t.Helper()
	ctx := t.Context()
	run, err := app.store.Runs.Claim(ctx, "worker", time.Minute)
	if err != nil || run == nil || run.DeploymentID != id {
		t.Fatalf("claim the run of %s: %v %+v", id, err, run)
	}
	if err := app.store.Runs.Finish(ctx, run.ID, store.Result{Status: status, Error: map[bool]string{true: "quota exceeded"}[status == store.RunFailed]}); err != nil {
		t.Fatal(err)
	}
}

// waitCallbacks waits until the deployment's callbacks are all settled
// (delivered or failed) and returns them.
func waitCallbacks(t *testing.T, app *testApp, id string, n int) []*store.Callback {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		list, err := app.store.Callbacks.List(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, c := range list {
			if c.State != store.CallbackPending {
				done++
			}
		}
		if len(list) == n && done == n {
			return list
		}
	}
	list, _ := app.store.Callbacks.List(t.Context(), id)
	t.Fatalf("callbacks of %s did not settle: %+v", id, list)
	return nil
}

// waitRetry waits until the failed attempt number n is recorded, so that moving
// the clock makes the next one due.
func waitRetry(t *testing.T, app *testApp, id string, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		list, _ := app.store.Callbacks.List(t.Context(), id)
		if len(list) == 1 && list[0].Attempts == n && list[0].State == store.CallbackPending && list[0].NextAttemptAt.After(app.clock.Now()) {
			return
		}
	}
	t.Fatalf("attempt %d of %s was not recorded", n, id)
}

func TestCallbacks_DeliveredRetriedAndGivenUp(t *testing.T) {
	t.Parallel() // its own service and database
	sink := newCallbackSink(t)
	app := newTestApp(t, withIdleEngine(t), withCallbacks(true, "127.0.0.1"))
	_, token := app.signup("alice")
	create := func(path string) string {
		return app.expect(201, "POST", "/orchestrator/deployments", token, map[string]any{"template": minimalTemplate,
			"callback": sink.url + path + "?token=s3cret"}).JSON(t)["uuid"].(string)
	}

	// A receiver down once: retried after the backoff, on the service's clock.
	flaky := create("/flaky")
	sink.quiet(t) // nothing is owed while the deployment is in progress
	settle(t, app, flaky, store.RunFailed)
	first := sink.next(t)
	if first.path != "/flaky" || first.contentType != "application/json" || first.userAgent != "orchestrator/test (deployment callback)" {
		t.Fatalf("first attempt: %+v", first)
	}
	if first.body["uuid"] != flaky || first.body["status"] != "CREATE_FAILED" || first.body["statusReason"] != "quota exceeded" ||
		first.body["links"] != nil || first.body["createdBy"].(map[string]any)["issuer"] != "orchestrator" {
		t.Fatalf("payload: %v", first.body)
	}
	waitRetry(t, app, flaky, 1)
	sink.quiet(t) // the next attempt waits for the backoff
	app.clock.Advance(5 * time.Second)
	if again := sink.next(t); again.path != "/flaky" || again.body["status"] != "CREATE_FAILED" {
		t.Fatalf("second attempt: %+v", again)
	}
	list := waitCallbacks(t, app, flaky, 1)
	if list[0].State != store.CallbackDelivered || list[0].Attempts != 2 {
		t.Fatalf("outbox: %+v", list[0])
	}
	logs := app.expect(200, "GET", "/orchestrator/deployments/"+flaky+"/log", token, nil).Body
	mustContain(t, logs, "callback for CREATE_FAILED to 127.0.0.1", "failed (attempt 1 of 3): HTTP 503; next attempt in 5s", "delivered (HTTP 200)")
	if strings.Contains(logs, "s3cret") || strings.Contains(logs, "/flaky") {
		t.Fatal("the log shows the callback's path or query")
	}

	// A receiver that answers 410 is not asked again.
	gone := create("/gone")
	settle(t, app, gone, store.RunSucceeded)
	sink.next(t)
	if list := waitCallbacks(t, app, gone, 1); list[0].State != store.CallbackFailed || list[0].Attempts != 1 {
		t.Fatalf("410: %+v", list[0])
	}

	// One that keeps failing is given up after the configured attempts.
	down := create("/down")
	settle(t, app, down, store.RunSucceeded)
	for i := 1; i <= 3; i++ {
		sink.next(t)
		if i < 3 {
			waitRetry(t, app, down, i)
			app.clock.Advance(time.Minute)
		}
	}
	if list := waitCallbacks(t, app, down, 1); list[0].State != store.CallbackFailed || list[0].Attempts != 3 {
		t.Fatalf("500s: %+v", list[0])
	}
	mustContain(t, app.expect(200, "GET", "/orchestrator/deployments/"+down+"/log", token, nil).Body, "given up after 3 attempts: HTTP 500")

	// Redirects: a 307 to an allowed host is followed with the body; one to
	// another host, or one that would turn the POST into a GET, is refused.
	in := create("/redirect-in")
	settle(t, app, in, store.RunSucceeded)
	if a, b := sink.next(t), sink.next(t); a.path != "/redirect-in" || b.path != "/ok" || b.body["uuid"] != in {
		t.Fatalf("redirect: %+v %+v", a, b)
	}
	if list := waitCallbacks(t, app, in, 1); list[0].State != store.CallbackDelivered {
		t.Fatalf("redirect in: %+v", list[0])
	}
	for path, why := range map[string]string{"/redirect-out": "redirect refused: callbacks may not go to hooks.example.org",
		"/redirect-get": "would turn the POST into a GET"} {
		id := create(path)
		settle(t, app, id, store.RunSucceeded)
		sink.next(t)
		list := waitCallbacks(t, app, id, 1)
		if list[0].State != store.CallbackFailed || !strings.Contains(list[0].LastError, why) || list[0].Attempts != 1 {
			t.Fatalf("%s: %+v", path, list[0])
		}
	}
	sink.quiet(t)

	// Every final status is owed: the delete of the first one too, to the same URL.
	app.expect(204, "DELETE", "/orchestrator/deployments/"+flaky, token, nil)
	settle(t, app, flaky, store.RunSucceeded)
	if got := sink.next(t); got.path != "/flaky" || got.body["status"] != "DELETE_COMPLETE" {
		t.Fatalf("delete callback: %+v", got)
	}
}

func TestCallbacks_RefusedDestinations(t *testing.T) {
	t.Parallel() // its own service and database
	sink := newCallbackSink(t)
	port := sink.url[strings.LastIndex(sink.url, ":"):]
	app := newTestApp(t, withIdleEngine(t), withCallbacks(false, "127.0.0.1", "localhost", "hooks.example.org:8443", "*.example.net"))
	_, token := app.signup("alice")
	for callback, why := range map[string]string{
		sink.url + "/cb":                          "127.0.0.1, a loopback or private address",
		"http://[::1]" + port + "/cb":             "callbacks may not go to [::1]",
		"https://hooks.example.org/cb":            "callbacks may not go to hooks.example.org",
		"https://example.net/cb":                  "callbacks may not go to example.net",
		"https://evil.org/cb?x=hooks.example.org": "callbacks may not go to evil.org",
		"ftp://hooks.example.org:8443/cb":         "http or https",
		"https://user:pw@hooks.example.org:8443/": "may not carry credentials",
		"hooks.example.org:8443/cb":               "http or https",
		"/relative":                               "absolute",
	} {
		res := app.expect(422, "POST", "/orchestrator/deployments", token, map[string]any{"template": minimalTemplate, "callback": callback})
		mustContain(t, res.Body, why)
	}
	// Allowed by name, refused by address: localhost resolves to loopback, which
	// is checked when the callback connects.
	id := app.expect(201, "POST", "/orchestrator/deployments", token, map[string]any{"template": minimalTemplate,
		"callback": "http://localhost" + port + "/cb"}).JSON(t)["uuid"].(string)
	for _, ok := range []string{"https://hooks.example.org:8443/cb", "https://a.b.example.net/cb"} {
		app.expect(201, "POST", "/orchestrator/deployments", token, map[string]any{"template": minimalTemplate, "callback": ok})
	}
	settle(t, app, id, store.RunSucceeded)
	list := waitCallbacks(t, app, id, 1)
	if list[0].State != store.CallbackFailed || !strings.Contains(list[0].LastError, "a loopback or private address") || list[0].Attempts != 1 {
		t.Fatalf("localhost: %+v", list[0])
	}
	sink.quiet(t)
	mustContain(t, app.expect(200, "GET", "/orchestrator/deployments/"+id+"/log", token, nil).Body,
		"callback for CREATE_COMPLETE to localhost"+port+" refused")

	// Link-local addresses (cloud metadata) stay refused whatever is allowed.
	meta := newTestApp(t, withIdleEngine(t), withCallbacks(true, "169.254.169.254", "0.0.0.0"))
	_, tok := meta.signup("bob")
	for _, cb := range []string{"http://169.254.169.254/latest/meta-data", "http://0.0.0.0/"} {
		res := meta.expect(422, "POST", "/orchestrator/deployments", tok, map[string]any{"template": minimalTemplate, "callback": cb})
		mustContain(t, res.Body, "never go to")
	}
}

// TestCallbacks_SurviveARestart: a callback owed while no dispatcher runs (the
// service was down) is delivered by the next service on the same database.
func TestCallbacks_SurviveARestart(t *testing.T) {
	t.Parallel() // its own service and database
	sink := newCallbackSink(t)
	app := newTestApp(t, withIdleEngine(t), withCallbacks(true, "127.0.0.1"))
	_, token := app.signup("alice")
	id := app.expect(201, "POST", "/orchestrator/deployments", token, map[string]any{"template": minimalTemplate, "callback": sink.url + "/cb"}).JSON(t)["uuid"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	settle(t, app, id, store.RunSucceeded) // a worker finishes while the API is down
	sink.quiet(t)
	next, err := New(Config{Version: "next", SigningKey: bytes.Repeat([]byte("k"), 32), Callbacks: app.server.cfg.Callbacks},
		Deps{Store: app.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Engine: app.server.engine})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Shutdown(context.Background())
	if got := sink.next(t); got.body["uuid"] != id || got.body["status"] != "CREATE_COMPLETE" || got.userAgent != "orchestrator/next (deployment callback)" {
		t.Fatalf("after the restart: %+v", got)
	}
}

func TestParseHostPattern(t *testing.T) {
	t.Parallel() // pure function
	for raw, want := range map[string]string{
		"Hooks.Example.org": "hooks.example.org", "*.example.org": "*.example.org", "hooks.example.org:8443": "hooks.example.org:8443",
		"10.0.0.5": "10.0.0.5", "[fd00::1]:443": "[fd00::1]:443", "fd00::1": "[fd00::1]", "::ffff:10.1.2.3": "10.1.2.3",
	} {
		got, err := parseHostPattern(raw)
		if err != nil || got.String() != want {
			t.Errorf("%s: %v %v, want %s", raw, got, err, want)
		}
	}
	for _, bad := range []string{"", "http://x.org", "x.org:0", "x.org:99999", "*", "*.", "a b.org", "x.org/path", "-x.org"} {
		if _, err := parseHostPattern(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	if _, err := New(Config{SigningKey: bytes.Repeat([]byte("k"), 32), Callbacks: CallbackConfig{Allow: []string{"http://x.org"}}},
		Deps{Store: newTestApp(t).store}); err == nil {
		t.Fatal("a bad allow-list entry was accepted")
	}
}

package server

// What the INDIGO orchestrator's clients send and read, request by request, as
// their sources build them: orchent 1.3.0 (Go, sling v1.1.0), orpy (Python,
// requests) and the INFN orchestrator-dashboard's app/lib/orchestrator.py
// (Python, requests). Each replays exact paths, headers and bodies against the
// real app and decodes answers the way the client does, so a test fails where
// the client would.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"orchestrator/examples"
	"orchestrator/jobs"
	"orchestrator/jobs/toolchain/tftest"
	"orchestrator/store"
)

// replay sends one request exactly as given: this URL, these headers, this
// body. Go's transport adds only Host, Content-Length and Accept-Encoding.
func (a *testApp) replay(method, rawURL string, body []byte, headers ...string) *response {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		a.t.Fatalf("new request: %v", err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return &response{Code: res.StatusCode, Body: string(data), Header: res.Header}
}

// resolveURL is how sling (url.ResolveReference) and Python's urljoin both
// resolve a client's relative path against its base URL.
func resolveURL(t testing.TB, base, rel string) string {
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(rel)
	if err != nil {
		t.Fatal(err)
	}
	return b.ResolveReference(r).String()
}

// withIdleEngine gives the server a real engine that is never started: no
// worker takes runs, so tests move deployments through their statuses with the
// store, as workers (or a crashed one) would leave them.
func withIdleEngine(t testing.TB) appOption {
	return func(c *Config, d *Deps) {
		tc := tftest.Find(t)
		e := jobs.New(jobs.Config{DataDir: t.TempDir(), Workers: 1}, d.Store, tc.TC, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err := d.Store.Targets.Create(context.Background(), &store.Target{Name: "local", Kind: "local", Config: []byte(`{}`)}, nil); err != nil {
			t.Fatal(err)
		}
		d.Engine, d.Toolchain = engineAdapter{e}, tc.TC
	}
}

// withCallbacks allows callbacks to hosts, checking often and retrying soon.
func withCallbacks(private bool, hosts ...string) appOption {
	return func(c *Config, _ *Deps) {
		c.Callbacks = CallbackConfig{Allow: hosts, AllowPrivate: private, Poll: 20 * time.Millisecond, Backoff: 5 * time.Second,
			MaxBackoff: time.Minute, Timeout: 5 * time.Second, Attempts: 3}
	}
}

func example(t testing.TB, name string) string {
	list, err := examples.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range list {
		if ex.Name == name {
			return ex.Content
		}
	}
	t.Fatalf("no example %s", name)
	return ""
}

// ---- orchent 1.3.0 ----

// orchent is orchent's view of the service: ORCHENT_URL with the slash
// base_url() adds, and ORCHENT_TOKEN.
type orchent struct {
	t     *testing.T
	app   *testApp
	base  string
	token string
}

func newOrchent(t *testing.T, app *testApp, token string) *orchent {
	return &orchent{t: t, app: app, base: app.url + "/orchestrator/", token: token}
}

// send is base_connection(): sling with User-Agent Orchent, Accept JSON and the
// bearer token; BodyJSON encodes with a json.Encoder and sets the Content-Type.
func (o *orchent) send(method, target string, body any) *response {
	o.t.Helper()
	headers := []string{"User-Agent", "Orchent", "Accept", "application/json", "Authorization", "Bearer " + o.token}
	var data []byte
	if body != nil {
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(body); err != nil {
			o.t.Fatal(err)
		}
		data = buf.Bytes()
		headers = append(headers, "Content-Type", "application/json")
	}
	if !strings.HasPrefix(target, "http") {
		target = resolveURL(o.t, o.base, target)
	}
	return o.app.replay(method, target, data, headers...)
}

// orchentError is the error body orchent decodes: INDIGO's, or an OAuth one.
type orchentError struct {
	Code     int    `json:"code"`
	Title1   string `json:"title"`
	Title2   string `json:"error"`
	Message1 string `json:"message"`
	Message2 string `json:"error_description"`
}

// receive is sling v1.1.0's Receive: a 2xx body is decoded into success (when
// given) whatever its type or length, any other into an orchentError; the
// result is what orchent reports: a decoding error, or the error it prints.
func (o *orchent) receive(res *response, success any) error {
	if res.Code >= 200 && res.Code <= 299 {
		if success == nil {
			return nil
		}
		return json.NewDecoder(strings.NewReader(res.Body)).Decode(success)
	}
	var e orchentError
	if err := json.NewDecoder(strings.NewReader(res.Body)).Decode(&e); err != nil {
		return fmt.Errorf("HTTP %d, undecodable error body: %v", res.Code, err)
	}
	if e.Title1 == "" && e.Message1 == "" && e.Title2 == "" && e.Message2 == "" {
		return nil // orchent's is_error() is false: it reports success
	}
	return fmt.Errorf("Error '%s' [%d]: %s", e.Title1, e.Code, e.Message1)
}

type orchentLink struct {
	Rel  string `json:"rel"`
	HRef string `json:"href"`
}

type orchentPage struct {
	Size          int `json:"size"`
	TotalElements int `json:"totalElements"`
	TotalPages    int `json:"totalPages"`
	Number        int `json:"number"`
}

type orchentDeployment struct {
	UUID                  string         `json:"uuid"`
	CreationTime          string         `json:"creationTime"`
	UpdateTime            string         `json:"updateTime"`
	CreatedBy             indigoIdentity `json:"createdBy"`
	UserGroup             string         `json:"userGroup"`
	PhysicalID            string         `json:"physicalId"`
	Status                string         `json:"status"`
	StatusReason          string         `json:"statusReason"`
	Task                  string         `json:"task"`
	CloudProviderName     string         `json:"cloudProviderName"`
	CloudProviderEndpoint map[string]any `json:"cloudProviderEndpoint"`
	Callback              string         `json:"callback"`
	Outputs               map[string]any `json:"outputs"`
	Links                 []orchentLink  `json:"links"`
}

type orchentResource struct {
	UUID          string        `json:"uuid"`
	CreationTime  string        `json:"creationTime"`
	State         string        `json:"state"`
	ToscaNodeType string        `json:"toscaNodeType"`
	ToscaNodeName string        `json:"toscaNodeName"`
	RequiredBy    []string      `json:"requiredBy"`
	Links         []orchentLink `json:"links"`
}

type orchentDeploymentList struct {
	Deployments []orchentDeployment `json:"content"`
	Links       []orchentLink       `json:"links"`
	Page        orchentPage         `json:"page"`
}

type orchentResourceList struct {
	Resources []orchentResource `json:"content"`
	Links     []orchentLink     `json:"links"`
	Page      orchentPage       `json:"page"`
}

type orchentCreateRequest struct {
	Template          string         `json:"template"`
	Parameters        map[string]any `json:"parameters"`
	Callback          string         `json:"callback,omitempty"`
	MaxProvidersRetry uint8          `json:"maxProvidersRetry,omitempty"`
	KeepLastAttempt   string         `json:"keepLastAttempt,omitempty"`
	UserGroup         string         `json:"userGroup,omitempty"`
}

func orchentLinkOf(rel string, links []orchentLink) *orchentLink {
	for _, l := range links {
		if l.Rel == rel {
			return &l
		}
	}
	return nil
}

// checkOrchentTime is deployment_time_to_number(): it slices the year, month,
// day, hour and minute out of the first 16 characters.
func checkOrchentTime(t *testing.T, v string) time.Time {
	t.Helper()
	if len(v) < 16 {
		t.Fatalf("orchent slices time[14:16]: %q is too short", v)
	}
	got, err := time.Parse("2006-01-02T15:04", v[:16])
	if err != nil {
		t.Fatalf("orchent cannot read the time %q: %v", v, err)
	}
	return got
}

// depls is `orchent depls [-c createdBy] [-g group]`: the list, then every next
// page while self, next and last are there and self is not last.
func (o *orchent) depls(createdBy, group string) []orchentDeployment {
	o.t.Helper()
	path := "./deployments"
	var params []string
	if createdBy != "" {
		params = append(params, "createdBy="+createdBy)
	}
	if group != "" {
		params = append(params, "userGroup="+group)
	}
	if len(params) > 0 {
		path += "?" + strings.Join(params, "&")
	}
	var all []orchentDeployment
	for pages := 0; ; pages++ {
		if pages > 50 {
			o.t.Fatal("orchent follows next links forever")
		}
		var list orchentDeploymentList
		if err := o.receive(o.send("GET", path, nil), &list); err != nil {
			o.t.Fatalf("depls: %v", err)
		}
		all = append(all, list.Deployments...)
		self, next, last := orchentLinkOf("self", list.Links), orchentLinkOf("next", list.Links), orchentLinkOf("last", list.Links)
		if self == nil || next == nil || last == nil || self.HRef == last.HRef {
			return all
		}
		path = next.HRef
	}
}

// resls is `orchent resls uuid`: the list, then every next page while self,
// next and last are there and self is not last.
func (o *orchent) resls(id string) []orchentResource {
	o.t.Helper()
	path := "./deployments/" + id + "/resources"
	var all []orchentResource
	for pages := 0; ; pages++ {
		if pages > 50 {
			o.t.Fatal("orchent follows next links forever")
		}
		var list orchentResourceList
		if err := o.receive(o.send("GET", path, nil), &list); err != nil {
			o.t.Fatalf("resls: %v", err)
		}
		all = append(all, list.Resources...)
		self, next, last := orchentLinkOf("self", list.Links), orchentLinkOf("next", list.Links), orchentLinkOf("last", list.Links)
		if self == nil || next == nil || last == nil || self.HRef == last.HRef {
			return all
		}
		path = next.HRef
	}
}

// ---- orpy ----

// orpy is OrpyClient: url + "/", "Bearer" + token with no space, Accept JSON,
// its own User-Agent; request() returns the body's "content" when there is one.
type orpy struct {
	t     *testing.T
	app   *testApp
	url   string
	token string
}

func newOrpy(t *testing.T, app *testApp, token string) *orpy {
	return &orpy{t: t, app: app, url: app.url + "/orchestrator" + "/", token: token}
}

// orpyError is what exceptions.from_response raises with: the status and the
// body's message (or title).
type orpyError struct {
	code    int
	message string
}

func (e *orpyError) Error() string { return fmt.Sprintf("ERROR: %s (HTTP %d)", e.message, e.code) }

// request is OrpyClient.request(): authenticated unless told otherwise. The
// content is the JSON body's "content", the JSON body, or the text when it is
// not JSON. orpy follows next links when self, next and last are there and
// self is not last, but then calls a method it does not have: the test fails
// where orpy would crash.
func (o *orpy) request(method, rel string, authenticated bool, payload any) (*response, any, error) {
	o.t.Helper()
	headers := []string{"User-Agent", "orpy-0.6.0", "Accept", "application/json"}
	if authenticated {
		headers = append(headers, "Authorization", "Bearer"+o.token)
	}
	var data []byte
	if payload != nil {
		var err error
		if data, err = json.Marshal(payload); err != nil {
			o.t.Fatal(err)
		}
		headers = append(headers, "Content-Type", "application/json")
	}
	res := o.app.replay(method, resolveURL(o.t, o.url, rel), data, headers...)
	if res.Code >= 400 {
		var body map[string]any
		msg := res.Body
		if json.Unmarshal([]byte(res.Body), &body) == nil {
			switch {
			case body["message"] != nil:
				msg = fmt.Sprint(body["message"])
			case body["title"] != nil:
				msg = fmt.Sprint(body["title"])
			}
		}
		return res, nil, &orpyError{code: res.Code, message: msg}
	}
	var doc any
	if err := json.Unmarshal([]byte(res.Body), &doc); err != nil {
		return res, res.Body, nil
	}
	content := doc
	if m, ok := doc.(map[string]any); ok {
		if c, ok := m["content"]; ok {
			content = c
		}
		links := map[string]string{}
		if list, ok := m["links"].([]any); ok {
			for _, l := range list {
				lm := l.(map[string]any)
				links[lm["rel"].(string)] = lm["href"].(string)
			}
		}
		if links["self"] != "" && links["next"] != "" && links["last"] != "" && links["self"] != links["last"] {
			o.t.Fatalf("orpy would follow %s and crash (it calls self.http_log_resp, which it does not have)", links["next"])
		}
	}
	return res, content, nil
}

// ---- the INFN orchestrator-dashboard ----

// dashboard is app/lib/orchestrator.py's Orchestrator: python-requests with the
// token, "Bearer" or "bearer" as each call writes it.
type dashboard struct {
	t     *testing.T
	app   *testApp
	url   string // ORCHESTRATOR_URL
	token string
}

func newDashboard(t *testing.T, app *testApp, token string) *dashboard {
	return &dashboard{t: t, app: app, url: app.url + "/orchestrator", token: token}
}

func (d *dashboard) send(method, rawURL, auth string, payload any) *response {
	d.t.Helper()
	headers := []string{"User-Agent", "python-requests/2.32.3", "Accept", "*/*", "Connection", "keep-alive", "Authorization", auth + " " + d.token}
	var data []byte
	if payload != nil {
		var err error
		if data, err = json.Marshal(payload); err != nil {
			d.t.Fatal(err)
		}
		headers = append(headers, "Content-Type", "application/json")
	}
	return d.app.replay(method, rawURL, data, headers...)
}

// allResults is _get_all_results(): every page's content, following "next"
// until there is none; raise_for_status on each.
func (d *dashboard) allResults(rawURL string) []map[string]any {
	d.t.Helper()
	var out []map[string]any
	for pages := 0; rawURL != ""; pages++ {
		if pages > 50 {
			d.t.Fatal("the dashboard follows next links forever")
		}
		res := d.send("GET", rawURL, "Bearer", nil)
		if res.Code >= 400 {
			d.t.Fatalf("GET %s: %d %s", rawURL, res.Code, res.Body)
		}
		var doc struct {
			Links   []map[string]string `json:"links"`
			Content []map[string]any    `json:"content"`
		}
		if err := json.Unmarshal([]byte(res.Body), &doc); err != nil {
			d.t.Fatalf("the dashboard reads response.json()['links'] and ['content']: %v\n%s", err, res.Body)
		}
		out = append(out, doc.Content...)
		rawURL = ""
		for _, l := range doc.Links {
			if l["rel"] == "next" {
				rawURL = l["href"]
			}
		}
	}
	return out
}

// getDeployments is get_deployments(created_by, excluded_status).
func (d *dashboard) getDeployments(createdBy, excludedStatus string) []map[string]any {
	var params []string
	if createdBy != "" {
		params = append(params, "createdBy="+createdBy)
	}
	if excludedStatus != "" {
		params = append(params, "excludedStatus="+excludedStatus)
	}
	u := d.url + "/deployments"
	if len(params) > 0 {
		u += "?" + strings.Join(params, "&")
	}
	return d.allResults(u)
}

// create is create(): "bearer", the template and inputs, and the extra options
// as the dashboard fills them (a form's provider timeout is a string).
func (d *dashboard) create(userGroup, template string, inputs map[string]any, callback string) *response {
	payload := map[string]any{"template": template, "parameters": inputs, "keepLastAttempt": "false",
		"providerTimeoutMins": "60", "timeoutMins": 720, "callback": callback}
	if userGroup != "" {
		payload["userGroup"] = userGroup
	}
	return d.send("POST", d.url+"/deployments/", "bearer", payload)
}

// update is update(): PUT with the same extra options; only response.ok counts.
func (d *dashboard) update(id, template string, inputs map[string]any, callback string) *response {
	return d.send("PUT", d.url+"/deployments/"+id, "bearer", map[string]any{"template": template, "parameters": inputs,
		"keepLastAttempt": "true", "providerTimeoutMins": 60, "timeoutMins": 720, "callback": callback})
}

// deleteDeployment is delete(): force in the query and, as requests' json=
// argument, the same list as a JSON body.
func (d *dashboard) deleteDeployment(id string, force bool) *response {
	var params []string
	if force {
		params = append(params, "force=true")
	}
	u := d.url + "/deployments/" + id
	if len(params) > 0 {
		u += "?" + strings.Join(params, "&")
	}
	if params == nil {
		params = []string{}
	}
	return d.send("DELETE", u, "bearer", params)
}

// checkDashboardReads checks every field sanitizedeployments() and the
// /callback route read, the way they read them (dep_json["x"] fails on a
// missing key, .get("statusReason", "")[:n] on a null).
func checkDashboardReads(t *testing.T, dep map[string]any) {
	t.Helper()
	for _, k := range []string{"uuid", "creationTime", "updateTime", "status", "task"} {
		if _, ok := dep[k].(string); !ok {
			t.Fatalf("the dashboard reads %s as a string: %v", k, dep)
		}
	}
	for _, k := range []string{"creationTime", "updateTime"} {
		if _, err := time.Parse("2006-01-02T15:04-0700", dep[k].(string)); err != nil {
			t.Fatalf("dateutil reads %s: %v", k, err)
		}
	}
	if _, ok := dep["outputs"].(map[string]any); !ok {
		t.Fatalf("the dashboard looks into outputs: %v", dep)
	}
	by, ok := dep["createdBy"].(map[string]any)
	if !ok || by["subject"] == nil || by["issuer"] == nil {
		t.Fatalf("the dashboard reads createdBy.subject and .issuer: %v", dep)
	}
	for _, k := range []string{"statusReason", "physicalId", "cloudProviderName", "userGroup"} {
		if v, present := dep[k]; present {
			if _, ok := v.(string); !ok {
				t.Fatalf("%s is present but not a string: %v", k, v)
			}
		}
	}
	if ep, present := dep["cloudProviderEndpoint"]; present {
		if _, ok := ep.(map[string]any); !ok {
			t.Fatalf("cloudProviderEndpoint.get() needs an object: %v", ep)
		}
	}
}

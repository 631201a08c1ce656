// Package ossim is an in-process OpenStack API simulator: a TEST DOUBLE of a
// remote cloud, so that tests can run the real terraform-provider-openstack
// (and the engine driving it) without a cloud.
//
// It serves, on a loopback port, the parts of Keystone v3, Nova, Neutron,
// Cinder v3, Glance and Swift that our modules use, from memory, with the
// asynchrony of a real cloud (servers BUILD then ACTIVE, volumes creating then
// available, slow deletes), per-test fault injection, and the strictness of the
// real APIs: what they reject it rejects, with the same status and error body.
// README.md lists what is covered and what is not.
//
// It must never be imported by the service binary's normal code paths: only
// tests use it (a test in this package checks the binary's imports).
package ossim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options tunes a simulated cloud. Zero durations make a transition instant.
type Options struct {
	// BuildTime is how long a new server stays BUILD before it is ACTIVE.
	BuildTime time.Duration
	// ActionTime is how long a power action or a resize step takes.
	ActionTime time.Duration
	// DeleteTime is how long a server or volume takes to disappear after a delete.
	DeleteTime time.Duration
	// VolumeTime is how long a volume takes to be created, attached, detached or extended.
	VolumeTime time.Duration
	// TokenTTL is the lifetime of Keystone tokens (default 1h).
	TokenTTL time.Duration
	// Region is the catalog's region (default RegionOne).
	Region string
	// Allocate, when set, chooses the addresses Neutron hands out: a fixed IP
	// for a new port, or the address of a new floating IP. Returning ok=false
	// takes the next free address. It lets a test make a simulated server's
	// addresses those of a real host.
	Allocate func(Allocation) (ip string, ok bool)
	// PublicCIDR and PrivateCIDR, when set, replace the ranges of the seeded
	// networks "public" and "private" (defaults: the constants of the same
	// names): a test whose servers stand for real hosts gives the ranges those
	// hosts' addresses are in.
	PublicCIDR, PrivateCIDR string
	// Boot, when set, is called once when a server first becomes ACTIVE, as
	// cloud-init runs once on a real server's first boot: a test that backs the
	// server by a real host installs there the keys of info.PublicKey and
	// info.UserData. It runs with the cloud locked: it must not call the
	// Cloud's methods. An error puts the server in ERROR with it as the fault.
	Boot func(info ServerInfo) error
	// Logf, when set, receives one line per request (method, path, status).
	Logf func(format string, args ...any)
}

// Allocation is an address Neutron is about to hand out.
type Allocation struct {
	Kind       string // "fixed" or "floating"
	NetworkID  string
	SubnetID   string
	CIDR       string
	PortName   string // fixed: the port's name
	DeviceID   string // fixed: the server the port is created for (Nova-made ports)
	DeviceName string // fixed: that server's name
	// Description is the floating IP's description (floating).
	Description string
}

// Cloud is one simulated OpenStack cloud. Every exported method is safe for
// concurrent use.
type Cloud struct {
	opts Options
	srv  *http.Server
	ln   net.Listener
	// URL is the cloud's base address (http://127.0.0.1:PORT).
	URL string

	mu       sync.Mutex
	closed   chan struct{}
	pending  []*transition
	seq      int
	requests []Request
	faults   []*faultRule

	// identity
	domains  map[string]*domain
	projects map[string]*project
	users    map[string]*user
	appCreds map[string]*appCred
	tokens   map[string]*token
	auths    []AuthRecord

	// compute
	flavors  map[string]*flavor
	keypairs map[string]*keypair // project/name
	servers  map[string]*server
	azs      []string
	failures []buildFailure

	// network
	networks  map[string]*network
	subnets   map[string]*subnet
	ports     map[string]*port
	secgroups map[string]*secgroup
	rules     map[string]*rule
	routers   map[string]*router
	fips      map[string]*floatingIP

	// block storage
	volumes     map[string]*volume
	volumeTypes []string

	// image
	images map[string]*image

	// object storage
	containers map[string]*container // project/name

	quotas map[string]*Quota // project id -> quota
	seeded map[string]bool   // ids made by the seed, not by a deployment
}

// Request is one API call the cloud answered.
type Request struct {
	Service string // identity, compute, network, volume, image, object-store
	Method  string
	Path    string // without the query
	Query   string
	Status  int
}

// Default credentials and names of the seeded cloud.
const (
	DefaultDomain    = "default"
	ProjectName      = "demo"
	UserName         = "demo"
	UserPassword     = "demo-secret-password"
	PublicNetwork    = "public"
	PrivateNetwork   = "private"
	PublicCIDR       = "172.24.4.0/24"
	PrivateCIDR      = "10.0.0.0/24"
	AvailabilityZone = "nova"
)

// Start starts a simulated cloud on a loopback port, seeded with a project
// "demo" (user "demo"), an external network "public" routed to a project
// network "private", the m1.* flavors, a few images and a volume type.
func Start(opts Options) (*Cloud, error) {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Region == "" {
		opts.Region = "RegionOne"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("ossim: listen: %w", err)
	}
	c := &Cloud{opts: opts, ln: ln, URL: "http://" + ln.Addr().String(), closed: make(chan struct{}),
		domains: map[string]*domain{}, projects: map[string]*project{}, users: map[string]*user{},
		appCreds: map[string]*appCred{}, tokens: map[string]*token{},
		flavors: map[string]*flavor{}, keypairs: map[string]*keypair{}, servers: map[string]*server{},
		networks: map[string]*network{}, subnets: map[string]*subnet{}, ports: map[string]*port{},
		secgroups: map[string]*secgroup{}, rules: map[string]*rule{}, routers: map[string]*router{},
		fips: map[string]*floatingIP{}, volumes: map[string]*volume{}, images: map[string]*image{},
		containers: map[string]*container{}, quotas: map[string]*Quota{}, seeded: map[string]bool{},
		azs: []string{AvailabilityZone}, volumeTypes: []string{"__DEFAULT__", "lvmdriver-1"},
	}
	c.seed()
	c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	go c.srv.Serve(ln)
	return c, nil
}

// NewTest starts a cloud for a test and closes it when the test ends.
func NewTest(t testing.TB, opts Options) *Cloud {
	t.Helper()
	c, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Close stops the cloud; requests that hang on a fault are released.
func (c *Cloud) Close() {
	c.mu.Lock()
	select {
	case <-c.closed:
		c.mu.Unlock()
		return
	default:
		close(c.closed)
	}
	c.mu.Unlock()
	c.srv.Close()
}

// AuthURL is Keystone's v3 endpoint, what OS_AUTH_URL points at.
func (c *Cloud) AuthURL() string { return c.URL + "/identity/v3" }

// Region is the catalog's region.
func (c *Cloud) Region() string { return c.opts.Region }

// Requests returns every call answered so far.
func (c *Cloud) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.requests...)
}

// Unhandled returns the calls no route of the simulator knows: each is a gap to
// fill (or a call the real API would also refuse).
func (c *Cloud) Unhandled() []Request {
	var out []Request
	for _, r := range c.Requests() {
		if r.Status == http.StatusNotImplemented {
			out = append(out, r)
		}
	}
	return out
}

// Count counts the answered calls of method whose path contains part.
func (c *Cloud) Count(method, part string) int {
	n := 0
	for _, r := range c.Requests() {
		if (method == "" || r.Method == method) && strings.Contains(r.Path, part) {
			n++
		}
	}
	return n
}

// transition is a state change due at a time (a server finishing its build, a
// volume becoming available). They are applied lazily, in order, before every
// request and every inspection, so the cloud needs no goroutines.
type transition struct {
	at  time.Time
	seq int
	do  func()
}

// later schedules do after d (at once when d <= 0). Callers hold c.mu.
func (c *Cloud) later(d time.Duration, do func()) {
	if d <= 0 {
		do()
		return
	}
	c.seq++
	c.pending = append(c.pending, &transition{at: time.Now().Add(d), seq: c.seq, do: do})
}

// settle applies every due transition. Callers hold c.mu.
func (c *Cloud) settle() {
	for {
		now := time.Now()
		sort.Slice(c.pending, func(i, j int) bool {
			if c.pending[i].at.Equal(c.pending[j].at) {
				return c.pending[i].seq < c.pending[j].seq
			}
			return c.pending[i].at.Before(c.pending[j].at)
		})
		if len(c.pending) == 0 || c.pending[0].at.After(now) {
			return
		}
		t := c.pending[0]
		c.pending = c.pending[1:]
		t.do()
	}
}

// ServeHTTP routes a request to its service after fault injection and, outside
// Keystone, token validation.
func (c *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	service, rest := splitService(r.URL.Path)
	defer func() {
		c.mu.Lock()
		c.requests = append(c.requests, Request{Service: service, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: rec.status})
		c.mu.Unlock()
		if c.opts.Logf != nil {
			c.opts.Logf("ossim: %s %s -> %d", r.Method, r.URL.RequestURI(), rec.status)
		}
	}()
	f := c.fault(service, r.Method, rest)
	if f != nil && f.Delay > 0 {
		select {
		case <-r.Context().Done():
		case <-c.closed:
		case <-time.After(f.Delay):
		}
		if f.Status == 0 && !f.Hang {
			f = nil
		}
	}
	if f != nil {
		if f.Hang {
			select {
			case <-r.Context().Done():
			case <-c.closed:
			}
			rec.status = 0 // never answered
			return
		}
		body := f.Body
		if body == "" {
			body = defaultErrorBody(service, f.Status)
		}
		rec.Header().Set("Content-Type", "application/json")
		rec.WriteHeader(f.Status)
		io.WriteString(rec, body)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle()
	ctx := &call{c: c, w: rec, r: r, service: service, path: rest}
	switch service {
	case "identity":
		c.serveIdentity(ctx)
		return
	case "compute", "network", "volume", "image", "object-store":
	default:
		ctx.notImplemented()
		return
	}
	if !c.authorize(ctx) {
		return
	}
	switch service {
	case "compute":
		c.serveCompute(ctx)
	case "network":
		c.serveNetwork(ctx)
	case "volume":
		c.serveVolume(ctx)
	case "image":
		c.serveImage(ctx)
	case "object-store":
		c.serveObjectStore(ctx)
	}
}

// splitService cuts "/compute/v2.1/servers" into "compute" and "/v2.1/servers".
func splitService(p string) (string, string) {
	p = strings.TrimPrefix(p, "/")
	service, rest, _ := strings.Cut(p, "/")
	return service, "/" + rest
}

type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

// call is one request being answered, with the caller's identity once known.
type call struct {
	c       *Cloud
	w       http.ResponseWriter
	r       *http.Request
	service string
	path    string // within the service, e.g. /v2.1/servers/ID
	token   *token
}

// project is the id of the project the caller's token is scoped to.
func (x *call) project() string { return x.token.projectID }

// match reports whether the path within the service, split on "/", matches
// pattern, where "*" stands for one segment; the values of the "*" segments are
// returned.
func (x *call) match(method, pattern string) ([]string, bool) {
	if method != "" && x.r.Method != method {
		return nil, false
	}
	got := strings.Split(strings.Trim(x.path, "/"), "/")
	want := strings.Split(strings.Trim(pattern, "/"), "/")
	if len(got) != len(want) {
		return nil, false
	}
	var vars []string
	for i := range want {
		switch {
		case want[i] == "*":
			if got[i] == "" {
				return nil, false
			}
			v, err := url.PathUnescape(got[i])
			if err != nil {
				return nil, false
			}
			vars = append(vars, v)
		case want[i] != got[i]:
			return nil, false
		}
	}
	return vars, true
}

// json answers with a JSON document.
func (x *call) json(status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	x.w.Header().Set("Content-Type", "application/json")
	x.w.WriteHeader(status)
	x.w.Write(data)
}

// empty answers with a status and no body.
func (x *call) empty(status int) {
	x.w.WriteHeader(status)
}

// decode reads the JSON body into v, answering 400 the way the service does
// when it is not JSON.
func (x *call) decode(v any) bool {
	data, err := io.ReadAll(io.LimitReader(x.r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		x.fail(http.StatusBadRequest, "Malformed request body")
		return false
	}
	return true
}

// fail answers with the error body the service uses for status.
func (x *call) fail(status int, msg string) {
	switch x.service {
	case "network":
		x.neutronFail(status, neutronType(status), msg)
	case "identity":
		x.json(status, map[string]any{"error": map[string]any{"code": status, "title": http.StatusText(status), "message": msg}})
	case "image", "object-store":
		x.w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		x.w.WriteHeader(status)
		fmt.Fprintf(x.w, "<html>\n <head>\n  <title>%d %s</title>\n </head>\n <body>\n  <h1>%d %s</h1>\n  %s<br /><br />\n\n\n\n </body>\n</html>",
			status, http.StatusText(status), status, http.StatusText(status), msg)
	default: // Nova and Cinder share the fault envelope
		x.json(status, map[string]any{novaFaultKey(status): map[string]any{"code": status, "message": msg}})
	}
}

// neutronFail answers with Neutron's error envelope.
func (x *call) neutronFail(status int, typ, msg string) {
	x.json(status, map[string]any{"NeutronError": map[string]any{"type": typ, "message": msg, "detail": ""}})
}

// notImplemented marks a call the simulator has no route for.
func (x *call) notImplemented() {
	x.json(http.StatusNotImplemented, map[string]any{"error": map[string]any{"code": 501,
		"message": fmt.Sprintf("ossim: no route for %s %s (the simulator does not cover this call)", x.r.Method, x.r.URL.Path)}})
}

func novaFaultKey(status int) string {
	switch status {
	case 400:
		return "badRequest"
	case 401:
		return "unauthorized"
	case 403:
		return "forbidden"
	case 404:
		return "itemNotFound"
	case 405:
		return "badMethod"
	case 409:
		return "conflictingRequest"
	case 413:
		return "overLimit"
	case 501:
		return "notImplemented"
	case 503:
		return "serviceUnavailable"
	}
	return "computeFault"
}

func neutronType(status int) string {
	switch status {
	case 400:
		return "HTTPBadRequest"
	case 401:
		return "HTTPUnauthorized"
	case 403:
		return "HTTPForbidden"
	case 404:
		return "HTTPNotFound"
	case 409:
		return "HTTPConflict"
	}
	return "HTTPInternalServerError"
}

// defaultErrorBody is what a service answers for an injected status.
func defaultErrorBody(service string, status int) string {
	var v any
	switch service {
	case "network":
		msg := "Request Failed: internal server error while processing your request."
		if status != 500 {
			msg = http.StatusText(status)
		}
		v = map[string]any{"NeutronError": map[string]any{"type": neutronType(status), "message": msg, "detail": ""}}
	case "identity":
		v = map[string]any{"error": map[string]any{"code": status, "title": http.StatusText(status), "message": "An unexpected error prevented the server from fulfilling your request."}}
	default:
		msg := "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class 'oslo_db.exception.DBConnectionError'>"
		if service == "volume" {
			msg = "The server has either erred or is incapable of performing the requested operation."
		}
		if status != 500 {
			msg = http.StatusText(status)
		}
		v = map[string]any{novaFaultKey(status): map[string]any{"code": status, "message": msg}}
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// newID is a random UUID (version 4).
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newHex is a random hex id (Keystone's ids have no dashes).
func newHex() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// stamp is the time format OpenStack APIs use.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// stampMicro is Nova's and Cinder's format with microseconds.
func stampMicro(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }

// readBody reads a request body (up to 1 MiB).
func readBody(x *call) ([]byte, bool) {
	data, err := io.ReadAll(io.LimitReader(x.r.Body, 1<<20))
	if err != nil {
		x.fail(http.StatusBadRequest, "Malformed request body")
		return nil, false
	}
	return data, true
}

// unmarshal decodes a body read by readBody, answering 400 when it is not JSON.
func unmarshal(x *call, data []byte, v any) bool {
	if err := json.Unmarshal(data, v); err != nil {
		x.fail(http.StatusBadRequest, "Malformed request body")
		return false
	}
	return true
}

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"orchestrator/store"
)

// CallbackConfig says where deployment callbacks (INDIGO's `callback`) may go
// and how they are sent. A callback is an outbound request the service makes on
// a user's behalf, to a URL the user chose: without an allow-list it would let
// anyone probe the service's own network.
type CallbackConfig struct {
	// Allow lists the hosts callbacks may go to: "dashboard.example.org",
	// "*.example.org" (its subdomains), or an IP address, each with an optional
	// ":port". Empty: callbacks are refused.
	Allow []string
	// AllowPrivate lets callbacks reach loopback, private (RFC 1918, RFC 4193) and
	// shared (RFC 6598) addresses, for a dashboard on the site's own network.
	// Link-local (cloud metadata), multicast and unspecified addresses never.
	AllowPrivate bool
	// Attempts is how many deliveries are tried before giving up (default 6).
	Attempts int
	// Backoff is the wait after the first failed attempt, doubled after each
	// further one up to MaxBackoff (defaults 10s and 10m).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Timeout bounds one attempt, from connecting to the response (default 10s).
	Timeout time.Duration
	// Poll is how often due callbacks are looked for (default 1s).
	Poll time.Duration
}

func withCallbackDefaults(c CallbackConfig) CallbackConfig {
	if c.Attempts <= 0 {
		c.Attempts = 6
	}
	if c.Backoff <= 0 {
		c.Backoff = 10 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Minute
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	return c
}

// hostPattern is one entry of the allow-list.
type hostPattern struct {
	host      string // lower case; an IP address in its canonical form
	subdomain bool   // "*.host": any name under host, not host itself
	port      string // empty: any
}

func (h hostPattern) String() string {
	s := h.host
	if h.subdomain {
		s = "*." + s
	}
	if strings.Contains(h.host, ":") {
		s = "[" + s + "]"
	}
	if h.port != "" {
		s += ":" + h.port
	}
	return s
}

var validHostName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// parseHostPattern reads "host", "*.domain", "10.0.0.5", "[fd00::1]", each
// with an optional ":port".
func parseHostPattern(raw string) (hostPattern, error) {
	s := strings.ToLower(strings.TrimSpace(raw))
	var p hostPattern
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		n, perr := strconv.Atoi(port)
		if perr != nil || n < 1 || n > 65535 {
			return p, fmt.Errorf("callback host %q: bad port %q", raw, port)
		}
		host, p.port = h, strconv.Itoa(n)
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		p.host = ip.Unmap().String()
		return p, nil
	}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		p.subdomain, host = true, rest
	}
	if !validHostName.MatchString(host) || len(host) > 253 {
		return p, fmt.Errorf("callback host %q is not a host name, *.domain or IP address", raw)
	}
	p.host = host
	return p, nil
}

// CheckCallbackAllow checks allow-list entries (serve --callback-allow) the
// way the server will read them.
func CheckCallbackAllow(list []string) error {
	for _, raw := range list {
		if _, err := parseHostPattern(raw); err != nil {
			return err
		}
	}
	return nil
}

// callbackPolicy decides where callbacks may go and sends them with a client
// that checks every address it connects to, after name resolution: a name that
// resolves to a forbidden address is refused when it is used, not only when the
// URL is accepted.
type callbackPolicy struct {
	cfg    CallbackConfig
	hosts  []hostPattern
	client *http.Client
}

func newCallbackPolicy(cfg CallbackConfig) (*callbackPolicy, error) {
	p := &callbackPolicy{cfg: cfg}
	for _, raw := range cfg.Allow {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		h, err := parseHostPattern(raw)
		if err != nil {
			return nil, err
		}
		p.hosts = append(p.hosts, h)
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return refusal("cannot read the address %s", address)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return refusal("cannot read the address %s", address)
		}
		return p.addrAllowed(ip)
	}}
	p.client = &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would connect for us, past the address check
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   cfg.Timeout,
			ResponseHeaderTimeout: cfg.Timeout,
			MaxIdleConns:          8,
			IdleConnTimeout:       30 * time.Second,
		},
		// Only 307 and 308 keep a POST a POST; the others would turn the callback
		// into a GET without its body. Every hop must be allowed like the first.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return refusal("more than 2 redirects")
			}
			if code := req.Response.StatusCode; code != http.StatusTemporaryRedirect && code != http.StatusPermanentRedirect {
				return refusal("the URL answered with a redirect (HTTP %d) that would turn the POST into a GET", code)
			}
			if err := p.check(req.URL.String()); err != nil {
				return refusal("redirect refused: %s", err.Error())
			}
			return nil
		},
	}
	return p, nil
}

// enabled reports whether callbacks may go anywhere at all.
func (p *callbackPolicy) enabled() bool { return len(p.hosts) > 0 }

// refusedError is a callback the policy refuses: retrying will not help.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func refusal(format string, args ...any) error {
	return &refusedError{msg: fmt.Sprintf(format, args...)}
}

// check says whether a callback URL may be used, and why not.
func (p *callbackPolicy) check(raw string) error {
	if len(raw) > 2048 {
		return refusal("the callback URL is longer than 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return refusal("the callback must be an absolute http or https URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return refusal("the callback must be an http or https URL, not %s", u.Scheme)
	}
	if u.User != nil {
		return refusal("the callback URL may not carry credentials")
	}
	if !p.enabled() {
		return refusal("callbacks are disabled on this service: its operator allows no callback host (serve --callback-allow)")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	ip, err := netip.ParseAddr(host)
	isIP := err == nil
	if isIP {
		host = ip.Unmap().String()
	}
	if !p.hostAllowed(host, port) {
		allowed := make([]string, len(p.hosts))
		for i, h := range p.hosts {
			allowed[i] = h.String()
		}
		return refusal("callbacks may not go to %s (allowed: %s)", u.Host, strings.Join(allowed, ", "))
	}
	if isIP {
		return p.addrAllowed(ip)
	}
	return nil
}

func (p *callbackPolicy) hostAllowed(host, port string) bool {
	for _, h := range p.hosts {
		if h.port != "" && h.port != port {
			continue
		}
		if h.subdomain && strings.HasSuffix(host, "."+h.host) || !h.subdomain && host == h.host {
			return true
		}
	}
	return false
}

var (
	// neverPrefixes are refused whatever the configuration: link-local holds
	// cloud metadata services (169.254.169.254).
	neverPrefixes = prefixes("0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "::/128", "fe80::/10", "ff00::/8")
	// privatePrefixes need AllowPrivate.
	privatePrefixes = prefixes("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
		"198.18.0.0/15", "::1/128", "fc00::/7")
	// IPv6 addresses that carry an IPv4 one (NAT64 in the last 32 bits, 6to4 in
	// bits 16 to 48) are checked as that IPv4 address.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	sixTo = netip.MustParsePrefix("2002::/16")
)

func prefixes(list ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(list))
	for i, s := range list {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// addrAllowed says whether a callback may connect to ip.
func (p *callbackPolicy) addrAllowed(ip netip.Addr) error {
	ip = ip.Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return p.addrAllowed(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixTo.Contains(ip):
			return p.addrAllowed(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	for _, n := range neverPrefixes {
		if n.Contains(ip) {
			return refusal("callbacks never go to %s (link-local, multicast or unspecified)", ip)
		}
	}
	for _, n := range privatePrefixes {
		if n.Contains(ip) && !p.cfg.AllowPrivate {
			return refusal("callbacks may not go to %s, a loopback or private address (serve --callback-allow-private allows it)", ip)
		}
	}
	return nil
}

// checkCallback checks a callback URL sent with a submission: 422 on the
// callback field when it may not be used.
func (s *Server) checkCallback(raw string) error {
	if err := s.callbacks.check(raw); err != nil {
		return invalid("callback", "%s", err.Error())
	}
	return nil
}

// callbackBatch is how many callbacks one dispatcher sends at once.
const callbackBatch = 8

// dispatchCallbacks delivers due callbacks until the server shuts down. It runs
// beside the engine, never in it: a slow or dead callback URL delays nothing
// but other callbacks, and the outbox in the store survives restarts.
func (s *Server) dispatchCallbacks() {
	defer s.background.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	tick := time.NewTicker(s.cfg.Callbacks.Poll)
	defer tick.Stop()
	for {
		s.deliverDueCallbacks(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *Server) deliverDueCallbacks(ctx context.Context) {
	// The lease outlasts one attempt, so a live dispatcher never loses its claim.
	due, err := s.store.Callbacks.Claim(ctx, callbackBatch, s.cfg.Callbacks.Timeout+30*time.Second)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("claim callbacks", "error", err.Error())
		}
		return
	}
	var wg sync.WaitGroup
	for _, cb := range due {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.deliverCallback(ctx, cb)
		}()
	}
	wg.Wait()
}

// deliverCallback POSTs the deployment, as the INDIGO API shows it, to its
// callback URL, and records the outcome in the outbox and the deployment's log.
func (s *Server) deliverCallback(ctx context.Context, cb *store.Callback) {
	// Bookkeeping outlives a shutdown that interrupts the request.
	book, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := s.store.Deployments.Get(book, cb.DeploymentID)
	if err != nil {
		if !store.IsNotFound(err) { // a hard delete took the callback with it
			s.log.Error("load deployment for callback", "deployment", cb.DeploymentID, "error", err.Error())
		}
		return
	}
	host := callbackHost(cb.URL)
	what := fmt.Sprintf("callback for %s to %s", cb.Status, host)
	if err := s.callbacks.check(cb.URL); err != nil {
		s.callbackOutcome(book, cb, store.LevelError, what+" refused: "+err.Error(), func() error {
			return s.store.Callbacks.Fail(book, cb.ID, err.Error())
		})
		return
	}
	d.Status, d.StatusReason = cb.Status, cb.StatusReason // what the deployment was when it was owed
	body, err := json.Marshal(s.indigoDeployment(book, d, nil, nil))
	if err != nil {
		s.log.Error("encode callback", "deployment", d.ID, "error", err.Error())
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb.URL, bytes.NewReader(body))
	if err != nil {
		s.callbackOutcome(book, cb, store.LevelError, what+" refused: "+err.Error(), func() error {
			return s.store.Callbacks.Fail(book, cb.ID, err.Error())
		})
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "orchestrator/"+s.cfg.Version+" (deployment callback)")
	res, err := s.callbacks.client.Do(req)
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and the next dispatcher tries again
	}
	var problem string
	permanent := false
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, which may hold a secret token
		}
		var refused *refusedError
		permanent = errors.As(err, &refused)
		problem = err.Error()
		if refused != nil {
			problem = refused.msg
		}
	} else {
		io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		switch code := res.StatusCode; {
		case code >= 200 && code < 300:
			s.callbackOutcome(book, cb, store.LevelInfo, fmt.Sprintf("%s delivered (HTTP %d)", what, code), func() error {
				return s.store.Callbacks.Delivered(book, cb.ID)
			})
			return
		case code == http.StatusRequestTimeout || code == http.StatusTooEarly || code == http.StatusTooManyRequests || code >= 500:
			problem = fmt.Sprintf("HTTP %d", code)
		default:
			problem, permanent = fmt.Sprintf("HTTP %d", code), true
		}
	}
	switch {
	case permanent:
		s.callbackOutcome(book, cb, store.LevelError, fmt.Sprintf("%s refused: %s", what, problem), func() error {
			return s.store.Callbacks.Fail(book, cb.ID, problem)
		})
	case cb.Attempts >= s.cfg.Callbacks.Attempts:
		s.callbackOutcome(book, cb, store.LevelError, fmt.Sprintf("%s given up after %d attempts: %s", what, cb.Attempts, problem), func() error {
			return s.store.Callbacks.Fail(book, cb.ID, problem)
		})
	default:
		wait := s.callbackBackoff(cb.Attempts)
		superseded, err := s.store.Callbacks.Retry(book, cb.ID, problem, s.now().Add(wait))
		msg := fmt.Sprintf("%s failed (attempt %d of %d): %s; next attempt in %s", what, cb.Attempts, s.cfg.Callbacks.Attempts, problem, wait)
		if superseded {
			msg = fmt.Sprintf("%s failed (attempt %d of %d): %s; not tried again: the deployment has a newer status to send",
				what, cb.Attempts, s.cfg.Callbacks.Attempts, problem)
		}
		s.callbackOutcome(book, cb, store.LevelWarn, msg, func() error { return err })
	}
}

// callbackBackoff is the wait after the given number of failed attempts.
func (s *Server) callbackBackoff(attempts int) time.Duration {
	wait := s.cfg.Callbacks.Backoff
	for i := 1; i < attempts && wait < s.cfg.Callbacks.MaxBackoff; i++ {
		wait *= 2
	}
	return min(wait, s.cfg.Callbacks.MaxBackoff)
}

func (s *Server) callbackOutcome(ctx context.Context, cb *store.Callback, level, msg string, record func() error) {
	if err := record(); err != nil {
		s.log.Error("record callback", "callback", cb.ID, "error", err.Error())
	}
	if err := s.store.Logs.Append(ctx, cb.DeploymentID, &store.LogLine{Level: level, Source: store.SourceOrchestrator, Message: msg}); err != nil &&
		!store.IsNotFound(err) {
		s.log.Error("log callback", "deployment", cb.DeploymentID, "error", err.Error())
	}
}

// callbackHost is the host of a callback URL, the only part of it logs show:
// paths and queries may carry tokens.
func callbackHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "an invalid URL"
	}
	return u.Host
}

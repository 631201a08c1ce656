package ossim

import (
	"strings"
	"time"
)

// Fault makes matching requests fail (or hang) before the service sees them.
type Fault struct {
	// Service is identity, compute, network, volume, image or object-store; "" matches any.
	Service string
	// Method is the HTTP method; "" matches any.
	Method string
	// Path is a part of the path within the service (e.g. "/servers" or
	// "/os-volume_attachments"); "" matches any.
	Path string
	// After lets this many matching requests through before the fault starts.
	After int
	// Times is how many matching requests fail; 0 means every one.
	Times int
	// Status and Body are the answer; an empty Body is the service's usual
	// error body for Status.
	Status int
	Body   string
	// Hang accepts the request and never answers it (until the client gives up
	// or the cloud closes), like an overloaded endpoint behind a load balancer.
	Hang bool
	// Delay holds matching requests this long before answering; with Status 0
	// the service then answers them normally (a slow endpoint).
	Delay time.Duration
}

type faultRule struct {
	Fault
	seen, fired int
}

// Inject adds a fault; the newest matching fault wins.
func (c *Cloud) Inject(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, &faultRule{Fault: f})
}

// ClearFaults removes every injected fault.
func (c *Cloud) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = nil
}

// fault returns the fault a request triggers, if any.
func (c *Cloud) fault(service, method, path string) *Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.faults) - 1; i >= 0; i-- {
		f := c.faults[i]
		if (f.Service != "" && f.Service != service) || (f.Method != "" && f.Method != method) || !strings.Contains(path, f.Path) {
			continue
		}
		f.seen++
		if f.seen <= f.After || (f.Times > 0 && f.fired >= f.Times) {
			continue
		}
		f.fired++
		out := f.Fault
		return &out
	}
	return nil
}

// FailBuilds makes every server whose name contains nameContains end its build
// in ERROR with the given fault message, as Nova does when scheduling or
// spawning fails ("No valid host was found. ...").
func (c *Cloud) FailBuilds(nameContains, message string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = append(c.failures, buildFailure{match: nameContains, message: message})
}

type buildFailure struct {
	match, message string
}

// SetBuildTime changes how long new servers stay BUILD (for a test that needs
// one long build among quick ones).
func (c *Cloud) SetBuildTime(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opts.BuildTime = d
}

// Quota is a project's limits; a zero field keeps the default.
type Quota struct {
	Instances   int // Nova
	Cores       int // Nova
	RAMMB       int // Nova
	KeyPairs    int // Nova (per user)
	Volumes     int // Cinder
	Gigabytes   int // Cinder
	FloatingIPs int // Neutron
	Networks    int // Neutron
	Ports       int // Neutron
	SecGroups   int // Neutron
	Routers     int // Neutron
}

// defaultQuota is OpenStack's out-of-the-box quota.
var defaultQuota = Quota{Instances: 10, Cores: 20, RAMMB: 51200, KeyPairs: 100, Volumes: 10, Gigabytes: 1000,
	FloatingIPs: 50, Networks: 100, Ports: 500, SecGroups: 10, Routers: 10}

// SetQuota sets the quota of the project named projectName.
func (c *Cloud) SetQuota(projectName string, q Quota) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.projectByName(projectName)
	if p == nil {
		panic("ossim: no project " + projectName)
	}
	merged := defaultQuota
	for _, kv := range []struct {
		dst *int
		v   int
	}{{&merged.Instances, q.Instances}, {&merged.Cores, q.Cores}, {&merged.RAMMB, q.RAMMB}, {&merged.KeyPairs, q.KeyPairs},
		{&merged.Volumes, q.Volumes}, {&merged.Gigabytes, q.Gigabytes}, {&merged.FloatingIPs, q.FloatingIPs},
		{&merged.Networks, q.Networks}, {&merged.Ports, q.Ports}, {&merged.SecGroups, q.SecGroups}, {&merged.Routers, q.Routers}} {
		if kv.v != 0 {
			*kv.dst = kv.v
		}
	}
	c.quotas[p.id] = &merged
}

// quota is a project's quota. Callers hold c.mu.
func (c *Cloud) quota(projectID string) Quota {
	if q := c.quotas[projectID]; q != nil {
		return *q
	}
	return defaultQuota
}

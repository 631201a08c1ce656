package modules

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// PoolHost is one machine of a hostpool target, as an admin registers it in the
// target's configuration ("hosts"). Its private key is in the target's
// credentials: "ssh_private_key.<name>", else the pool-wide "ssh_private_key".
type PoolHost struct {
	Name    string            `json:"name"`
	Address string            `json:"address"`
	Port    int               `json:"port,omitempty"`
	User    string            `json:"user"`
	Public  bool              `json:"public,omitempty"` // reachable from outside: its address is also its public address
	Labels  map[string]string `json:"labels,omitempty"`
	CPUs    int               `json:"cpus,omitempty"`
	MemMB   int               `json:"memory_mb,omitempty"`
	DiskGB  int               `json:"disk_gb,omitempty"`
	OS      PoolOS            `json:"os,omitempty"`
	Bastion *PoolBastion      `json:"bastion,omitempty"`
}

// PoolOS is what a pool host runs, matched against a node's os capability.
type PoolOS struct {
	Distribution string `json:"distribution,omitempty"`
	Version      string `json:"version,omitempty"`
	Type         string `json:"type,omitempty"`
	Architecture string `json:"architecture,omitempty"`
}

// PoolBastion is the jump host a pool host is reached through (with the host's key).
type PoolBastion struct {
	Address string `json:"address"`
	Port    int    `json:"port,omitempty"`
	User    string `json:"user"`
}

var (
	poolNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	poolUserRe = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)
	poolDNSRe  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$`)
)

// PoolHosts reads the hosts of a hostpool target's configuration, with defaults
// filled in (port 22, 1 cpu).
func PoolHosts(cfg map[string]any) ([]PoolHost, error) {
	raw, ok := cfg["hosts"]
	if !ok || raw == nil {
		return nil, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var hosts []PoolHost
	if err := json.Unmarshal(b, &hosts); err != nil {
		return nil, fmt.Errorf("hosts: %w", err)
	}
	for i := range hosts {
		if hosts[i].Port == 0 {
			hosts[i].Port = 22
		}
		if hosts[i].CPUs == 0 {
			hosts[i].CPUs = 1
		}
		if b := hosts[i].Bastion; b != nil && b.Port == 0 {
			b.Port = 22
		}
	}
	return hosts, nil
}

// Describe is a host's capacity as one phrase, for messages.
func (h PoolHost) Describe() string {
	parts := []string{fmt.Sprintf("%d cpus", h.CPUs)}
	if h.MemMB > 0 {
		parts = append(parts, fmt.Sprintf("%d MB", h.MemMB))
	}
	if h.DiskGB > 0 {
		parts = append(parts, fmt.Sprintf("%d GB disk", h.DiskGB))
	}
	if os := strings.TrimSpace(strings.Join([]string{h.OS.Distribution, h.OS.Version, h.OS.Architecture}, " ")); os != "" {
		parts = append(parts, os)
	}
	for k, v := range h.Labels {
		parts = append(parts, k+"="+v)
	}
	return fmt.Sprintf("%s (%s)", h.Name, strings.Join(parts, ", "))
}

func checkAddress(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	return poolDNSRe.MatchString(s)
}

// checkPoolHosts checks the "hosts" key of a hostpool target.
func checkPoolHosts(v any) string {
	list, ok := v.([]any)
	if !ok {
		return "must be a list of {name, address, port, user, public, labels, cpus, memory_mb, disk_gb, os, bastion}"
	}
	seen := map[string]bool{}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return fmt.Sprintf("entry %d must be an object", i)
		}
		name, _ := m["name"].(string)
		if !poolNameRe.MatchString(name) {
			return fmt.Sprintf("entry %d needs a name of letters, digits, _, . or - (up to 63)", i)
		}
		if seen[name] {
			return fmt.Sprintf("host %q is listed twice", name)
		}
		seen[name] = true
		for k, val := range m {
			msg := ""
			switch k {
			case "name":
			case "address":
				if s, _ := val.(string); !checkAddress(s) {
					msg = "address must be an IP address or a host name"
				}
			case "user":
				if s, _ := val.(string); !poolUserRe.MatchString(s) {
					msg = "user must be an account name (lowercase letters, digits, _, ., -)"
				}
			case "port":
				if n, ok := number(val); !ok || n < 1 || n > 65535 || n != float64(int(n)) {
					msg = "port must be a whole number from 1 to 65535"
				}
			case "cpus", "memory_mb", "disk_gb":
				if n, ok := number(val); !ok || n < 0 || n != float64(int(n)) {
					msg = k + " must be a whole number of at least 0"
				}
			case "public":
				if _, ok := val.(bool); !ok {
					msg = "public must be true or false"
				}
			case "labels":
				lm, ok := val.(map[string]any)
				if !ok {
					msg = "labels must be an object of strings"
				}
				for lk, lv := range lm {
					if _, ok := lv.(string); !ok {
						msg = fmt.Sprintf("label %q must be a string", lk)
					}
				}
			case "os":
				om, ok := val.(map[string]any)
				if !ok {
					msg = "os must be an object {distribution, version, type, architecture}"
				}
				for ok2, ov := range om {
					switch ok2 {
					case "distribution", "version", "type", "architecture":
						if _, ok := ov.(string); !ok {
							msg = "os." + ok2 + " must be a string"
						}
					default:
						msg = fmt.Sprintf("os: unknown field %q (fields: distribution, version, type, architecture)", ok2)
					}
				}
			case "bastion":
				bm, ok := val.(map[string]any)
				if !ok {
					msg = "bastion must be an object {address, port, user}"
					break
				}
				if s, _ := bm["address"].(string); !checkAddress(s) {
					msg = "bastion.address must be an IP address or a host name"
				} else if s, _ := bm["user"].(string); !poolUserRe.MatchString(s) {
					msg = "bastion.user must be an account name"
				}
				for bk, bv := range bm {
					switch bk {
					case "address", "user":
					case "port":
						if n, ok := number(bv); !ok || n < 1 || n > 65535 {
							msg = "bastion.port must be from 1 to 65535"
						}
					default:
						msg = fmt.Sprintf("bastion: unknown field %q (fields: address, port, user)", bk)
					}
				}
			default:
				msg = fmt.Sprintf("unknown field %q (fields: name, address, port, user, public, labels, cpus, memory_mb, disk_gb, os, bastion)", k)
			}
			if msg != "" {
				return fmt.Sprintf("host %q: %s", name, msg)
			}
		}
		for _, req := range []string{"address", "user"} {
			if _, ok := m[req]; !ok {
				return fmt.Sprintf("host %q: %s is required", name, req)
			}
		}
	}
	return ""
}

// checkSSHUser checks an account name ssh will be given.
func checkSSHUser(v any) string {
	if s, _ := v.(string); !poolUserRe.MatchString(s) {
		return "must be an account name (lowercase letters, digits, _, ., -)"
	}
	return ""
}

// checkBastion checks a target's jump host {address, port, user}.
func checkBastion(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return "must be an object {address, port, user}"
	}
	if s, _ := m["address"].(string); !checkAddress(s) {
		return "address must be an IP address or a host name"
	}
	if s, _ := m["user"].(string); !poolUserRe.MatchString(s) {
		return "user must be an account name"
	}
	for k, val := range m {
		switch k {
		case "address", "user":
		case "port":
			if n, ok := number(val); !ok || n < 1 || n > 65535 || n != float64(int(n)) {
				return "port must be a whole number from 1 to 65535"
			}
		default:
			return fmt.Sprintf("unknown field %q (fields: address, port, user)", k)
		}
	}
	return ""
}

// checkOneOf accepts one of the given strings.
func checkOneOf(values ...string) func(any) string {
	return func(v any) string {
		s, _ := v.(string)
		for _, x := range values {
			if s == x {
				return ""
			}
		}
		return fmt.Sprintf("must be one of %s", strings.Join(values, ", "))
	}
}

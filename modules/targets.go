package modules

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
)

// ConfigProblem is one thing wrong in a target's configuration: the key path
// ("boot_seconds", "flavors[2].vcpus") and why.
type ConfigProblem struct {
	Key     string
	Message string
}

// configKey checks one key of a target's configuration.
type configKey struct {
	check func(v any) string // "" when the value is good
	doc   string
}

// targetKeys are the configuration keys each target kind's modules read, checked
// with the rules the modules themselves enforce at plan time (preconditions), so a
// target that would fail every deployment is refused when it is saved.
// modules_targets_test.go runs the modules against the same values to keep both
// in step. README.md ("Target configuration") documents the keys.
var targetKeys = map[string]map[string]configKey{
	"local": {
		"flavors":              {checkFlavors, "the flavor catalog"},
		"images":               {checkImages, "the image catalog"},
		"default_network_cidr": {checkCIDR(false), "the deployment's implicit network"},
		"public_cidr":          {checkCIDR(true), "the simulated floating IP pool (IPv4, room for 4 addresses or more)"},
		"boot_seconds":         {checkNumber(0, 3600, true), "simulated boot time, 0 to 3600 seconds"},
		"max_volume_gb":        {checkNumber(1, math.MaxInt32, false), "the simulated volume quota in GB"},
		"availability_zone":    {checkString, "recorded only"},
	},
	"openstack": {
		"flavors":                {checkFlavors, "the flavor catalog"},
		"images":                 {checkImages, "the image catalog"},
		"external_network":       {checkString, "floating IP pool / router gateway network name"},
		"external_network_id":    {checkString, "router gateway network id"},
		"default_network":        {checkString, "network name for computes with no Port"},
		"default_network_id":     {checkString, "network id for computes with no Port"},
		"availability_zone":      {checkString, "availability zone of servers and volumes"},
		"ssh_user":               {checkSSHUser, "account software configuration logs in as (default root)"},
		"bastion":                {checkBastion, "jump host {address, port, user} for servers without a public address"},
		"software_configuration": {checkOneOf("ssh", "off"), "ssh (default): run software nodes' operations over SSH; off: record them only (servers the service cannot reach)"},
	},
	// Existing machines reached over SSH (hostpool.go); their private keys are
	// the target's credentials, never its configuration.
	"hostpool": {
		"hosts":            {checkPoolHosts, "the machines of the pool: name, address, port, user, public, labels, cpus, memory_mb, disk_gb, os, bastion"},
		"ssh_wait_seconds": {checkNumber(1, 3600, true), "how long configuration waits for a host's SSH, 1 to 3600 seconds"},
	},
}

// CheckTargetConfig says what is wrong with a target's configuration for its
// kind (nil when nothing is). Null values mean "the default", as in the modules.
func CheckTargetConfig(kind string, cfg map[string]any) []ConfigProblem {
	keys, ok := targetKeys[kind]
	if !ok {
		return []ConfigProblem{{Key: "kind", Message: fmt.Sprintf("unknown target kind %q", kind)}}
	}
	var problems []ConfigProblem
	names := make([]string, 0, len(cfg))
	for k := range cfg {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		spec, ok := keys[k]
		if !ok {
			problems = append(problems, ConfigProblem{Key: k, Message: fmt.Sprintf("unknown key for a %s target; known keys: %s", kind, knownKeys(keys))})
			continue
		}
		if cfg[k] == nil {
			continue
		}
		if msg := spec.check(cfg[k]); msg != "" {
			problems = append(problems, ConfigProblem{Key: k, Message: msg})
		}
	}
	return problems
}

func knownKeys(keys map[string]configKey) string {
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// number reads JSON numbers however they were decoded.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func checkNumber(min, max float64, whole bool) func(any) string {
	return func(v any) string {
		n, ok := number(v)
		if !ok {
			return fmt.Sprintf("must be a number from %g to %g", min, max)
		}
		if whole && n != math.Trunc(n) {
			return fmt.Sprintf("must be a whole number from %g to %g, got %g", min, max, n)
		}
		if n < min || n > max {
			return fmt.Sprintf("must be from %g to %g, got %g", min, max, n)
		}
		return ""
	}
}

func checkString(v any) string {
	if _, ok := v.(string); !ok {
		return "must be a string"
	}
	return ""
}

// checkCIDR accepts an IP range; pool asks for IPv4 with room for at least 4
// addresses (the local compute module's precondition for floating addresses).
func checkCIDR(pool bool) func(any) string {
	return func(v any) string {
		s, ok := v.(string)
		if !ok {
			return "must be a CIDR string such as 10.10.0.0/16"
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Sprintf("%q is not a CIDR range such as 10.10.0.0/16", s)
		}
		if pool && (!p.Addr().Is4() || p.Bits() > 30) {
			return fmt.Sprintf("%q must be an IPv4 range with room for addresses (/30 or wider)", s)
		}
		return ""
	}
}

func checkFlavors(v any) string {
	list, ok := v.([]any)
	if !ok {
		return "must be a list of {name, vcpus, ram_mb, disk_gb, gpus}"
	}
	seen := map[string]bool{}
	for i, e := range list {
		f, ok := e.(map[string]any)
		if !ok {
			return fmt.Sprintf("entry %d must be an object {name, vcpus, ram_mb, disk_gb, gpus}", i)
		}
		name, _ := f["name"].(string)
		if name == "" {
			return fmt.Sprintf("entry %d needs a name", i)
		}
		if seen[name] {
			return fmt.Sprintf("flavor %q is listed twice", name)
		}
		seen[name] = true
		for k, val := range f {
			switch k {
			case "name":
			case "vcpus", "ram_mb", "disk_gb", "gpus":
				min := 0.0
				if k == "vcpus" {
					min = 1
				}
				if n, ok := number(val); !ok || n < min || n != math.Trunc(n) {
					return fmt.Sprintf("flavor %q: %s must be a whole number of at least %g", name, k, min)
				}
			default:
				return fmt.Sprintf("flavor %q: unknown field %q (fields: name, vcpus, ram_mb, disk_gb, gpus)", name, k)
			}
		}
	}
	return ""
}

func checkImages(v any) string {
	list, ok := v.([]any)
	if !ok {
		return "must be a list of {name, distribution, version, type, architecture}"
	}
	seen := map[string]bool{}
	for i, e := range list {
		img, ok := e.(map[string]any)
		if !ok {
			return fmt.Sprintf("entry %d must be an object {name, distribution, version, type, architecture}", i)
		}
		name, _ := img["name"].(string)
		if name == "" {
			return fmt.Sprintf("entry %d needs a name", i)
		}
		if seen[name] {
			return fmt.Sprintf("image %q is listed twice", name)
		}
		seen[name] = true
		for k, val := range img {
			switch k {
			case "name":
			case "distribution", "version", "type", "architecture":
				if _, ok := val.(string); !ok {
					return fmt.Sprintf("image %q: %s must be a string", name, k)
				}
			default:
				return fmt.Sprintf("image %q: unknown field %q (fields: name, distribution, version, type, architecture)", name, k)
			}
		}
	}
	return ""
}

package modules

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckTargetConfig_Hostpool(t *testing.T) {
	cases := []struct {
		name, cfg, key, msg string
	}{
		{"good", `{"hosts": [{"name": "h1", "address": "192.0.2.10", "user": "root", "port": 2222, "public": true,
			"labels": {"rack": "a"}, "cpus": 4, "memory_mb": 8192, "disk_gb": 40, "os": {"distribution": "debian", "version": "12"},
			"bastion": {"address": "bastion.example.org", "user": "jump", "port": 22}}], "ssh_wait_seconds": 60}`, "", ""},
		{"no hosts yet", `{}`, "", ""},
		{"duplicate", `{"hosts": [{"name": "h", "address": "192.0.2.1", "user": "u"}, {"name": "h", "address": "192.0.2.2", "user": "u"}]}`, "hosts", "listed twice"},
		{"address with a newline", `{"hosts": [{"name": "h", "address": "192.0.2.1\n ProxyCommand x", "user": "u"}]}`, "hosts", "address must be"},
		{"user with options", `{"hosts": [{"name": "h", "address": "192.0.2.1", "user": "root -oProxyCommand=x"}]}`, "hosts", "user must be"},
		{"missing user", `{"hosts": [{"name": "h", "address": "192.0.2.1"}]}`, "hosts", "user is required"},
		{"port out of range", `{"hosts": [{"name": "h", "address": "192.0.2.1", "user": "u", "port": 70000}]}`, "hosts", "port must be"},
		{"misspelt field", `{"hosts": [{"name": "h", "address": "192.0.2.1", "user": "u", "memory": 4}]}`, "hosts", `unknown field "memory"`},
		{"os field", `{"hosts": [{"name": "h", "address": "192.0.2.1", "user": "u", "os": {"distro": "x"}}]}`, "hosts", `unknown field "distro"`},
		{"bad bastion", `{"hosts": [{"name": "h", "address": "192.0.2.1", "user": "u", "bastion": {"address": "b"}}]}`, "hosts", "bastion.user"},
		{"allocations are the engine's", `{"allocations": {}}`, "allocations", "unknown key"},
		{"wait too long", `{"ssh_wait_seconds": 99999}`, "ssh_wait_seconds", "from 1 to 3600"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cfg map[string]any
			if err := json.Unmarshal([]byte(c.cfg), &cfg); err != nil {
				t.Fatal(err)
			}
			problems := CheckTargetConfig("hostpool", cfg)
			if c.key == "" {
				if len(problems) > 0 {
					t.Fatalf("refused: %v", problems)
				}
				hosts, err := PoolHosts(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if len(hosts) == 1 && (hosts[0].Port != 2222 || hosts[0].Bastion.Port != 22 || hosts[0].MemMB != 8192) {
					t.Fatalf("parsed: %+v", hosts[0])
				}
				return
			}
			if len(problems) != 1 || problems[0].Key != c.key || !strings.Contains(problems[0].Message, c.msg) {
				t.Fatalf("want %s: %s, got %v", c.key, c.msg, problems)
			}
		})
	}
}

func TestCheckTargetConfig_OpenStackConfigurationKeys(t *testing.T) {
	ok := map[string]any{"ssh_user": "ubuntu", "bastion": map[string]any{"address": "192.0.2.1", "user": "jump", "port": 22.0}}
	if p := CheckTargetConfig("openstack", ok); len(p) != 0 {
		t.Fatalf("refused: %v", p)
	}
	bad := map[string]any{"ssh_user": "root -oProxyCommand=x", "bastion": map[string]any{"address": "x y", "user": "u"}}
	if p := CheckTargetConfig("openstack", bad); len(p) != 2 {
		t.Fatalf("want two problems, got %v", p)
	}
}

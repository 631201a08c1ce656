package ossim

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// The seed (a small research cloud) and what tests read back: servers,
// volumes, and everything a project still holds.

// seed makes the cloud every test starts from. Callers hold no lock (Start).
func (c *Cloud) seed() {
	c.domains[DefaultDomain] = &domain{id: DefaultDomain, name: "Default"}
	admin := c.addProject("admin")
	demo := c.addProject(ProjectName)
	u := &user{id: newHex(), name: UserName, domainID: DefaultDomain, password: UserPassword, projects: []string{demo}}
	c.users[u.id] = u
	for i, f := range []Flavor{{"m1.tiny", 1, 512, 1}, {"m1.small", 1, 2048, 20}, {"m1.medium", 2, 4096, 40},
		{"m1.large", 4, 8192, 80}, {"m1.xlarge", 8, 16384, 160}} {
		c.flavors[fmt.Sprint(i+1)] = &flavor{id: fmt.Sprint(i + 1), name: f.Name, vcpus: f.VCPUs, ramMB: f.RAMMB, diskGB: f.DiskGB, public: true, rxtx: 1, extraSpecs: map[string]string{}}
	}
	for _, im := range []Image{{Name: "cirros-0.6.2-x86_64-disk"},
		{Name: "ubuntu-24.04", MinDiskGB: 3, Properties: map[string]string{"os_distro": "ubuntu", "os_version": "24.04"}},
		{Name: "ubuntu-22.04", MinDiskGB: 3, Properties: map[string]string{"os_distro": "ubuntu", "os_version": "22.04"}},
		{Name: "rocky-9", MinDiskGB: 10, Properties: map[string]string{"os_distro": "rocky", "os_version": "9"}},
		{Name: "centos-7", MinDiskGB: 8, Properties: map[string]string{"os_distro": "centos", "os_version": "7"}}} {
		c.addImage(im)
	}
	// The provider network everyone gets floating IPs from, and the demo
	// project's network routed to it, as a typical deployment has them.
	now := time.Now()
	public := &network{id: newID(), name: PublicNetwork, projectID: admin, adminUp: true, external: true, portSecurity: true, mtu: 1500, created: now, updated: now}
	c.networks[public.id] = public
	c.seedSubnet(public, "public-subnet", cmp.Or(c.opts.PublicCIDR, PublicCIDR), false)
	private := &network{id: newID(), name: PrivateNetwork, projectID: demo, adminUp: true, portSecurity: true, mtu: 1450, created: now.Add(time.Microsecond), updated: now}
	c.networks[private.id] = private
	privateSubnet := c.seedSubnet(private, "private-subnet", cmp.Or(c.opts.PrivateCIDR, PrivateCIDR), true)
	r := &router{id: newID(), name: "router1", projectID: demo, adminUp: true, created: now, updated: now}
	c.routers[r.id] = r
	gw, _, _ := c.newPort("", public, "", nil, []string{}, nil)
	gw.deviceID, gw.deviceOwner, gw.status = r.id, "network:router_gateway", "ACTIVE"
	r.gwPortID, r.gwNetworkID, r.snat = gw.id, public.id, true
	itf, _, _ := c.newPort(demo, private, "", []fixedIP{{privateSubnet.id, privateSubnet.gateway}}, []string{}, nil)
	itf.deviceID, itf.deviceOwner, itf.status = r.id, "network:router_interface", "ACTIVE"
	c.defaultSecgroup(demo)
	for _, id := range []string{public.id, private.id, r.id, gw.id, itf.id} {
		c.seeded[id] = true
	}
}

func (c *Cloud) seedSubnet(n *network, name, cidr string, dhcp bool) *subnet {
	prefix := netip.MustParsePrefix(cidr)
	gw := prefix.Addr().Next()
	s := &subnet{id: newID(), name: name, projectID: n.projectID, networkID: n.id, prefix: prefix, gateway: gw.String(), ipVersion: 4,
		dhcp: dhcp, pools: []pool{{gw.Next(), lastAddr(prefix).Prev()}}, created: n.created, updated: n.created}
	c.subnets[s.id] = s
	n.subnets = append(n.subnets, s.id)
	c.seeded[s.id] = true
	if dhcp {
		ip, _ := c.allocate(s, Allocation{Kind: "fixed"})
		p := &port{id: newID(), projectID: n.projectID, networkID: n.id, mac: c.newMAC(), deviceID: "dhcp" + newHex(), deviceOwner: "network:dhcp",
			status: "ACTIVE", adminUp: true, fixedIPs: []fixedIP{{s.id, ip}}, created: n.created, updated: n.created}
		c.ports[p.id] = p
		c.seeded[p.id] = true
	}
	return s
}

// Flavor describes a flavor a test adds.
type Flavor struct {
	Name         string
	VCPUs, RAMMB int
	DiskGB       int
}

// AddFlavor adds a public flavor and returns its id.
func (c *Cloud) AddFlavor(f Flavor) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := fmt.Sprint(100 + len(c.flavors))
	c.flavors[id] = &flavor{id: id, name: f.Name, vcpus: f.VCPUs, ramMB: f.RAMMB, diskGB: f.DiskGB, public: true, rxtx: 1, extraSpecs: map[string]string{}}
	return id
}

// NetworkID is the id of the named network ("" if there is none).
func (c *Cloud) NetworkID(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.sortedNetworks() {
		if n.name == name {
			return n.id
		}
	}
	return ""
}

// ServerInfo is a server as a test sees it.
type ServerInfo struct {
	ID, Name, Status, TaskState string
	Flavor, Image, KeyName, AZ  string
	Metadata                    map[string]string
	UserData                    string // decoded
	PublicKey                   string // the key pair's public key ("" without a key pair)
	FixedIPs, FloatingIPs       []string
	Ports                       []string
	SecurityGroups              []string
	Volumes                     []string // attached volume ids
	Fault                       string
	Reboots                     int
	// Actions are the server actions Nova accepted (os-stop, resize, ...), in order.
	Actions []string
}

// Servers returns every server, oldest first.
func (c *Cloud) Servers() []ServerInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle()
	var list []*server
	for _, s := range c.servers {
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].created.Before(list[j].created) })
	var out []ServerInfo
	for _, s := range list {
		out = append(out, c.serverInfo(s))
	}
	return out
}

// Server returns one server by id.
func (c *Cloud) Server(id string) (ServerInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle()
	s := c.servers[id]
	if s == nil {
		return ServerInfo{}, false
	}
	return c.serverInfo(s), true
}

func (c *Cloud) serverInfo(s *server) ServerInfo {
	info := ServerInfo{ID: s.id, Name: s.name, Status: s.status, TaskState: s.taskState, Flavor: c.flavors[s.flavorID].name,
		KeyName: s.keyName, AZ: s.az, Metadata: map[string]string{}, Ports: append([]string(nil), s.ports...),
		SecurityGroups: c.serverSecgroupNames(s), Reboots: s.reboots, Actions: append([]string(nil), s.actions...)}
	if img := c.images[s.imageID]; img != nil {
		info.Image = img.name
	}
	for k, v := range s.metadata {
		info.Metadata[k] = v
	}
	if kp := c.keypairs[s.userID+"/"+s.keyName]; kp != nil && s.keyName != "" {
		info.PublicKey = kp.publicKey
	}
	if data, err := base64.StdEncoding.DecodeString(s.userData); err == nil {
		info.UserData = string(data)
	}
	for _, pid := range s.ports {
		if p := c.ports[pid]; p != nil {
			for _, f := range p.fixedIPs {
				info.FixedIPs = append(info.FixedIPs, f.ip)
			}
			for _, f := range c.sortedFIPs() {
				if f.portID == p.id {
					info.FloatingIPs = append(info.FloatingIPs, f.address)
				}
			}
		}
	}
	for _, a := range s.attachments {
		info.Volumes = append(info.Volumes, a.volumeID)
	}
	if s.fault != nil {
		info.Fault = fmt.Sprint(s.fault["message"])
	}
	return info
}

// VolumeInfo is a volume as a test sees it.
type VolumeInfo struct {
	ID, Name, Status string
	SizeGB           int
	AttachedTo       []string // server ids
	Devices          []string
}

// Volumes returns every volume, oldest first.
func (c *Cloud) Volumes() []VolumeInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle()
	var list []*volume
	for _, v := range c.volumes {
		list = append(list, v)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].created.Before(list[j].created) })
	var out []VolumeInfo
	for _, v := range list {
		info := VolumeInfo{ID: v.id, Name: v.name, Status: v.status, SizeGB: v.sizeGB}
		for _, a := range v.attachments {
			info.AttachedTo = append(info.AttachedTo, a.serverID)
			info.Devices = append(info.Devices, a.device)
		}
		out = append(out, info)
	}
	return out
}

// FloatingIPInfo is a floating IP as a test sees it.
type FloatingIPInfo struct {
	ID, Address, PortID, FixedIP, Description string
}

// FloatingIPs returns every floating IP.
func (c *Cloud) FloatingIPs() []FloatingIPInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []FloatingIPInfo
	for _, f := range c.sortedFIPs() {
		out = append(out, FloatingIPInfo{ID: f.id, Address: f.address, PortID: f.portID, FixedIP: f.fixedIP, Description: f.description})
	}
	return out
}

// Inventory is what a project holds beyond the seed: after a deployment is
// deleted it must be empty (nothing leaked).
type Inventory struct {
	Servers, Ports, FloatingIPs, Volumes, SecurityGroups, KeyPairs []string
	Networks, Subnets, Routers, Containers                         []string
}

// Empty reports whether nothing is left.
func (i Inventory) Empty() bool { return i.String() == "" }

func (i Inventory) String() string {
	var parts []string
	for _, kv := range []struct {
		kind string
		list []string
	}{{"servers", i.Servers}, {"ports", i.Ports}, {"floating IPs", i.FloatingIPs}, {"volumes", i.Volumes},
		{"security groups", i.SecurityGroups}, {"key pairs", i.KeyPairs}, {"networks", i.Networks}, {"subnets", i.Subnets},
		{"routers", i.Routers}, {"containers", i.Containers}} {
		if len(kv.list) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s (%s)", len(kv.list), kv.kind, strings.Join(kv.list, ", ")))
		}
	}
	return strings.Join(parts, "; ")
}

// Inventory lists what the named project holds that the seed did not make
// (DHCP ports and routers' gateway ports go with their subnet or router).
func (c *Cloud) Inventory(projectName string) Inventory {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle()
	p := c.projectByName(projectName)
	if p == nil {
		return Inventory{}
	}
	var inv Inventory
	name := func(n, id string) string {
		if n == "" {
			return id
		}
		return n + " " + id
	}
	for _, s := range c.servers {
		if s.projectID == p.id {
			inv.Servers = append(inv.Servers, name(s.name, s.id))
		}
	}
	for _, x := range c.ports {
		if x.projectID == p.id && !c.seeded[x.id] && x.deviceOwner != "network:dhcp" {
			inv.Ports = append(inv.Ports, name(x.name, x.id))
		}
	}
	for _, f := range c.fips {
		if f.projectID == p.id {
			inv.FloatingIPs = append(inv.FloatingIPs, name(f.address, f.id))
		}
	}
	for _, v := range c.volumes {
		if v.projectID == p.id {
			inv.Volumes = append(inv.Volumes, name(v.name, v.id))
		}
	}
	for _, sg := range c.secgroups {
		if sg.projectID == p.id && !c.seeded[sg.id] {
			inv.SecurityGroups = append(inv.SecurityGroups, name(sg.name, sg.id))
		}
	}
	for _, k := range c.keypairs {
		if u := c.users[k.user]; u != nil && containsString(u.projects, p.id) {
			inv.KeyPairs = append(inv.KeyPairs, k.name)
		}
	}
	for _, n := range c.networks {
		if n.projectID == p.id && !c.seeded[n.id] {
			inv.Networks = append(inv.Networks, name(n.name, n.id))
		}
	}
	for _, s := range c.subnets {
		if s.projectID == p.id && !c.seeded[s.id] {
			inv.Subnets = append(inv.Subnets, name(s.name, s.id))
		}
	}
	for _, r := range c.routers {
		if r.projectID == p.id && !c.seeded[r.id] {
			inv.Routers = append(inv.Routers, name(r.name, r.id))
		}
	}
	for _, ct := range c.containers {
		if ct.projectID == p.id {
			inv.Containers = append(inv.Containers, ct.name)
		}
	}
	for _, l := range []*[]string{&inv.Servers, &inv.Ports, &inv.FloatingIPs, &inv.Volumes, &inv.SecurityGroups, &inv.KeyPairs,
		&inv.Networks, &inv.Subnets, &inv.Routers, &inv.Containers} {
		sort.Strings(*l)
	}
	return inv
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

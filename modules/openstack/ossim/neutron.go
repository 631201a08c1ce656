package ossim

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Neutron (network v2.0): networks, subnets, ports with fixed IPs allocated from
// their subnets, security groups and rules, routers and their interfaces,
// floating IPs and their association to ports, the external network.

type network struct {
	id, name, projectID, description string
	adminUp, shared, external        bool
	portSecurity                     bool
	mtu                              int
	subnets                          []string
	created, updated                 time.Time
	revision                         int
}

type subnet struct {
	id, name, projectID, networkID, description string
	prefix                                      netip.Prefix
	gateway                                     string // "" = none
	ipVersion                                   int
	dhcp                                        bool
	pools                                       []pool
	dns                                         []string
	created, updated                            time.Time
	revision                                    int
}

type pool struct{ start, end netip.Addr }

type fixedIP struct{ subnetID, ip string }

type port struct {
	id, name, projectID, networkID, description string
	mac, deviceID, deviceOwner, status, hostID  string
	adminUp, portSecurity                       bool
	fixedIPs                                    []fixedIP
	secGroups                                   []string
	created, updated                            time.Time
	revision                                    int
}

type secgroup struct {
	id, name, description, projectID string
	stateful                         bool
	created, updated                 time.Time
	revision                         int
}

type rule struct {
	id, groupID, direction, ethertype, projectID, description string
	protocol, remoteIP, remoteGroup                           string // "" = any / none
	min, max                                                  *int
	created                                                   time.Time
}

type router struct {
	id, name, projectID, description string
	adminUp, snat                    bool
	gwNetworkID, gwPortID            string
	created, updated                 time.Time
	revision                         int
}

type floatingIP struct {
	id, projectID, networkID, address, description string
	portID, fixedIP, routerID                      string
	created, updated                               time.Time
	revision                                       int
}

func (n *network) visibleTo(projectID string) bool {
	return n.projectID == projectID || n.shared || n.external
}

func (c *Cloud) serveNetwork(x *call) {
	if x.path == "/" || x.path == "" {
		x.json(http.StatusOK, map[string]any{"versions": []any{map[string]any{"id": "v2.0", "status": "CURRENT",
			"links": []any{map[string]any{"rel": "self", "href": c.URL + "/network/v2.0/"}}}}})
		return
	}
	c.defaultSecgroup(x.project()) // Neutron makes it on a project's first call
	type route struct {
		method, pattern string
		do              func([]string)
	}
	routes := []route{
		{"GET", "/v2.0/extensions", func([]string) { c.listExtensions(x) }},
		{"GET", "/v2.0/extensions/*", func(v []string) { c.showExtension(x, v[0]) }},
		{"GET", "/v2.0/networks", func([]string) { c.listNetworks(x) }},
		{"POST", "/v2.0/networks", func([]string) { c.createNetwork(x) }},
		{"GET", "/v2.0/networks/*", func(v []string) { c.showNetwork(x, v[0]) }},
		{"PUT", "/v2.0/networks/*", func(v []string) { c.updateNetwork(x, v[0]) }},
		{"DELETE", "/v2.0/networks/*", func(v []string) { c.deleteNetwork(x, v[0]) }},
		{"GET", "/v2.0/subnets", func([]string) { c.listSubnets(x) }},
		{"POST", "/v2.0/subnets", func([]string) { c.createSubnet(x) }},
		{"GET", "/v2.0/subnets/*", func(v []string) { c.showSubnet(x, v[0]) }},
		{"PUT", "/v2.0/subnets/*", func(v []string) { c.updateSubnet(x, v[0]) }},
		{"DELETE", "/v2.0/subnets/*", func(v []string) { c.deleteSubnet(x, v[0]) }},
		{"GET", "/v2.0/ports", func([]string) { c.listPorts(x) }},
		{"POST", "/v2.0/ports", func([]string) { c.createPort(x) }},
		{"GET", "/v2.0/ports/*", func(v []string) { c.showPort(x, v[0]) }},
		{"PUT", "/v2.0/ports/*", func(v []string) { c.updatePort(x, v[0]) }},
		{"DELETE", "/v2.0/ports/*", func(v []string) { c.deletePort(x, v[0]) }},
		{"GET", "/v2.0/security-groups", func([]string) { c.listSecgroups(x) }},
		{"POST", "/v2.0/security-groups", func([]string) { c.createSecgroup(x) }},
		{"GET", "/v2.0/security-groups/*", func(v []string) { c.showSecgroup(x, v[0]) }},
		{"PUT", "/v2.0/security-groups/*", func(v []string) { c.updateSecgroup(x, v[0]) }},
		{"DELETE", "/v2.0/security-groups/*", func(v []string) { c.deleteSecgroup(x, v[0]) }},
		{"GET", "/v2.0/security-group-rules", func([]string) { c.listRules(x) }},
		{"POST", "/v2.0/security-group-rules", func([]string) { c.createRule(x) }},
		{"GET", "/v2.0/security-group-rules/*", func(v []string) { c.showRule(x, v[0]) }},
		{"DELETE", "/v2.0/security-group-rules/*", func(v []string) { c.deleteRule(x, v[0]) }},
		{"GET", "/v2.0/routers", func([]string) { c.listRouters(x) }},
		{"POST", "/v2.0/routers", func([]string) { c.createRouter(x) }},
		{"GET", "/v2.0/routers/*", func(v []string) { c.showRouter(x, v[0]) }},
		{"PUT", "/v2.0/routers/*", func(v []string) { c.updateRouter(x, v[0]) }},
		{"DELETE", "/v2.0/routers/*", func(v []string) { c.deleteRouter(x, v[0]) }},
		{"PUT", "/v2.0/routers/*/add_router_interface", func(v []string) { c.addRouterInterface(x, v[0]) }},
		{"PUT", "/v2.0/routers/*/remove_router_interface", func(v []string) { c.removeRouterInterface(x, v[0]) }},
		{"GET", "/v2.0/floatingips", func([]string) { c.listFIPs(x) }},
		{"POST", "/v2.0/floatingips", func([]string) { c.createFIP(x) }},
		{"GET", "/v2.0/floatingips/*", func(v []string) { c.showFIP(x, v[0]) }},
		{"PUT", "/v2.0/floatingips/*", func(v []string) { c.updateFIP(x, v[0]) }},
		{"DELETE", "/v2.0/floatingips/*", func(v []string) { c.deleteFIP(x, v[0]) }},
	}
	for _, rt := range routes {
		if v, ok := x.match(rt.method, rt.pattern); ok {
			rt.do(v)
			return
		}
	}
	x.notImplemented()
}

// extensions are the API extensions a typical ML2/OVS deployment lists.
var extensions = []string{"agent", "allowed-address-pairs", "availability_zone", "binding", "default-subnetpools",
	"dhcp_agent_scheduler", "dns-integration", "external-net", "extra_dhcp_opt", "extraroute", "ext-gw-mode",
	"fip-port-details", "l3_agent_scheduler", "net-mtu", "network_availability_zone", "port-security", "project-id",
	"provider", "quotas", "rbac-policies", "router", "router_availability_zone", "security-group", "standard-attr-description",
	"standard-attr-revisions", "standard-attr-tag", "standard-attr-timestamp", "stateful-security-group", "subnet_allocation"}

func (c *Cloud) listExtensions(x *call) {
	var list []any
	for _, e := range extensions {
		list = append(list, extensionBody(e))
	}
	x.json(http.StatusOK, map[string]any{"extensions": list})
}

func (c *Cloud) showExtension(x *call, alias string) {
	if !slices.Contains(extensions, alias) {
		x.neutronFail(http.StatusNotFound, "HTTPNotFound", "Extension with alias "+alias+" does not exist")
		return
	}
	x.json(http.StatusOK, map[string]any{"extension": extensionBody(alias)})
}

func extensionBody(alias string) map[string]any {
	return map[string]any{"alias": alias, "name": alias, "description": alias, "links": []any{}, "updated": "2013-01-01T10:00:00-00:00"}
}

// filter applies Neutron's list filters: every query parameter that names a
// field of the resource must equal it (several values of one name: any of them).
func filter(x *call, items []map[string]any) []map[string]any {
	q := x.r.URL.Query()
	var out []map[string]any
	for _, it := range items {
		ok := true
		for key, want := range q {
			switch key {
			case "fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse":
				continue
			case "fixed_ips":
				if !matchFixedIPs(it["fixed_ips"], want) {
					ok = false
				}
				continue
			}
			v, has := it[key]
			if !has {
				continue // Neutron ignores unknown filters
			}
			got := fmt.Sprint(v)
			if v == nil {
				got = ""
			}
			if list, isList := v.([]any); isList {
				got = ""
				for _, e := range list {
					if slices.Contains(want, fmt.Sprint(e)) {
						got = fmt.Sprint(e)
					}
				}
			}
			if !slices.ContainsFunc(want, func(w string) bool { return w == got || strings.EqualFold(w, got) && (got == "true" || got == "false") }) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, fields(x, it))
		}
	}
	return out
}

// matchFixedIPs is Neutron's fixed_ips filter on ports: each value is
// "ip_address=A", "subnet_id=S" or "ip_address_substr=P"; values of one field
// are alternatives, different fields must all hold for one of the port's
// fixed IPs (what the provider's port data source sends for its fixed_ip and
// device lookups).
func matchFixedIPs(v any, want []string) bool {
	conds := map[string][]string{}
	for _, w := range want {
		k, val, ok := strings.Cut(w, "=")
		if !ok {
			return false
		}
		conds[k] = append(conds[k], val)
	}
	list, _ := v.([]any)
	for _, raw := range list {
		f, _ := raw.(map[string]any)
		all := true
		for k, vals := range conds {
			got := fmt.Sprint(f[k])
			if k == "ip_address_substr" {
				got = fmt.Sprint(f["ip_address"])
				if !slices.ContainsFunc(vals, func(s string) bool { return strings.Contains(got, s) }) {
					all = false
				}
				continue
			}
			if f[k] == nil || !slices.Contains(vals, got) {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

// fields applies the "fields" projection.
func fields(x *call, it map[string]any) map[string]any {
	want := x.r.URL.Query()["fields"]
	if len(want) == 0 {
		return it
	}
	out := map[string]any{}
	for _, f := range want {
		if v, ok := it[f]; ok {
			out[f] = v
		}
	}
	return out
}

func listOf(items []map[string]any) []any {
	out := []any{}
	for _, it := range items {
		out = append(out, it)
	}
	return out
}

func standard(projectID string, created, updated time.Time, revision int) map[string]any {
	return map[string]any{"tenant_id": projectID, "project_id": projectID, "created_at": stamp(created), "updated_at": stamp(updated),
		"revision_number": revision, "tags": []any{}}
}

func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// --- networks ---

func (c *Cloud) sortedNetworks() []*network {
	var out []*network
	for _, n := range c.networks {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].created.Before(out[j].created) || (out[i].created.Equal(out[j].created) && out[i].id < out[j].id)
	})
	return out
}

func (c *Cloud) networkBody(n *network) map[string]any {
	status := "ACTIVE"
	if !n.adminUp {
		status = "DOWN"
	}
	return merge(map[string]any{"id": n.id, "name": n.name, "description": n.description, "admin_state_up": n.adminUp,
		"status": status, "subnets": nonNilStrings(n.subnets), "shared": n.shared, "router:external": n.external,
		"mtu": n.mtu, "port_security_enabled": n.portSecurity, "availability_zone_hints": []any{}, "availability_zones": []any{"nova"},
		"ipv4_address_scope": nil, "ipv6_address_scope": nil, "is_default": false, "l2_adjacency": true,
	}, standard(n.projectID, n.created, n.updated, n.revision))
}

// visibleNetwork finds a network the caller may see, or answers 404.
func (c *Cloud) visibleNetwork(x *call, id string) *network {
	n := c.networks[id]
	if n == nil || !n.visibleTo(x.project()) {
		x.neutronFail(http.StatusNotFound, "NetworkNotFound", fmt.Sprintf("Network %s could not be found.", id))
		return nil
	}
	return n
}

func (c *Cloud) listNetworks(x *call) {
	var items []map[string]any
	for _, n := range c.sortedNetworks() {
		if n.visibleTo(x.project()) {
			items = append(items, c.networkBody(n))
		}
	}
	x.json(http.StatusOK, map[string]any{"networks": listOf(filter(x, items))})
}

func (c *Cloud) showNetwork(x *call, id string) {
	if n := c.visibleNetwork(x, id); n != nil {
		x.json(http.StatusOK, map[string]any{"network": fields(x, c.networkBody(n))})
	}
}

func (c *Cloud) createNetwork(x *call) {
	var req struct {
		Network map[string]any `json:"network"`
	}
	if !x.decode(&req) {
		return
	}
	if req.Network == nil {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", "Resource body required")
		return
	}
	if ext, _ := req.Network["router:external"].(bool); ext {
		x.neutronFail(http.StatusForbidden, "HTTPForbidden", "(rule:create_network and rule:create_network:router:external) is disallowed by policy")
		return
	}
	if shared, _ := req.Network["shared"].(bool); shared {
		x.neutronFail(http.StatusForbidden, "HTTPForbidden", "(rule:create_network and rule:create_network:shared) is disallowed by policy")
		return
	}
	if c.count(x.project(), "network") >= c.quota(x.project()).Networks {
		x.neutronFail(http.StatusConflict, "OverQuota", "Quota exceeded for resources: ['network'].")
		return
	}
	now := time.Now()
	n := &network{id: newID(), projectID: x.project(), adminUp: true, portSecurity: true, mtu: 1450, created: now, updated: now, revision: 1}
	if !c.applyNetwork(x, n, req.Network) {
		return
	}
	c.networks[n.id] = n
	x.json(http.StatusCreated, map[string]any{"network": c.networkBody(n)})
}

func (c *Cloud) applyNetwork(x *call, n *network, m map[string]any) bool {
	for k, v := range m {
		switch k {
		case "name":
			n.name, _ = v.(string)
		case "description":
			n.description, _ = v.(string)
		case "admin_state_up":
			n.adminUp, _ = v.(bool)
		case "port_security_enabled":
			n.portSecurity, _ = v.(bool)
		case "mtu":
			if f, ok := v.(float64); ok {
				if f < 68 || f > 1450 {
					x.neutronFail(http.StatusBadRequest, "InvalidInput", fmt.Sprintf("Invalid input for operation: Requested MTU is too big, maximum is 1450."))
					return false
				}
				n.mtu = int(f)
			}
		case "shared", "router:external", "availability_zone_hints", "tenant_id", "project_id", "dns_domain", "qos_policy_id", "segments":
		default:
			x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Unrecognized attribute(s) '%s'", k))
			return false
		}
	}
	return true
}

func (c *Cloud) updateNetwork(x *call, id string) {
	n := c.visibleNetwork(x, id)
	if n == nil {
		return
	}
	var req struct {
		Network map[string]any `json:"network"`
	}
	if !x.decode(&req) || !c.owns(x, n.projectID, "network", id) || !c.applyNetwork(x, n, req.Network) {
		return
	}
	n.updated, n.revision = time.Now(), n.revision+1
	x.json(http.StatusOK, map[string]any{"network": c.networkBody(n)})
}

func (c *Cloud) owns(x *call, projectID, kind, id string) bool {
	if projectID != x.project() {
		x.neutronFail(http.StatusForbidden, "HTTPForbidden", fmt.Sprintf("update_%s on %s is disallowed by policy", kind, id))
		return false
	}
	return true
}

func (c *Cloud) deleteNetwork(x *call, id string) {
	n := c.visibleNetwork(x, id)
	if n == nil || !c.owns(x, n.projectID, "network", id) {
		return
	}
	for _, p := range c.ports {
		if p.networkID == id && p.deviceOwner != "network:dhcp" {
			x.neutronFail(http.StatusConflict, "NetworkInUse", fmt.Sprintf("Unable to complete operation on network %s. There are one or more ports still in use on the network.", id))
			return
		}
	}
	for _, p := range c.ports {
		if p.networkID == id {
			delete(c.ports, p.id)
		}
	}
	for _, sid := range n.subnets {
		delete(c.subnets, sid)
	}
	delete(c.networks, id)
	x.empty(http.StatusNoContent)
}

// --- subnets ---

func (c *Cloud) subnetBody(s *subnet) map[string]any {
	var pools []any
	for _, p := range s.pools {
		pools = append(pools, map[string]any{"start": p.start.String(), "end": p.end.String()})
	}
	var gw any
	if s.gateway != "" {
		gw = s.gateway
	}
	return merge(map[string]any{"id": s.id, "name": s.name, "description": s.description, "network_id": s.networkID,
		"cidr": s.prefix.String(), "ip_version": s.ipVersion, "gateway_ip": gw, "enable_dhcp": s.dhcp,
		"allocation_pools": nonNil(pools), "dns_nameservers": nonNilStrings(s.dns), "host_routes": []any{},
		"ipv6_address_mode": nil, "ipv6_ra_mode": nil, "subnetpool_id": nil, "service_types": []any{}, "dns_publish_fixed_ip": false,
	}, standard(s.projectID, s.created, s.updated, s.revision))
}

func (c *Cloud) visibleSubnet(x *call, id string) *subnet {
	s := c.subnets[id]
	if s == nil || !c.networks[s.networkID].visibleTo(x.project()) {
		x.neutronFail(http.StatusNotFound, "SubnetNotFound", fmt.Sprintf("Subnet %s could not be found.", id))
		return nil
	}
	return s
}

func (c *Cloud) listSubnets(x *call) {
	var list []*subnet
	for _, s := range c.subnets {
		if c.networks[s.networkID].visibleTo(x.project()) {
			list = append(list, s)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		return list[i].created.Before(list[j].created) || list[i].id < list[j].id && list[i].created.Equal(list[j].created)
	})
	var items []map[string]any
	for _, s := range list {
		items = append(items, c.subnetBody(s))
	}
	x.json(http.StatusOK, map[string]any{"subnets": listOf(filter(x, items))})
}

func (c *Cloud) showSubnet(x *call, id string) {
	if s := c.visibleSubnet(x, id); s != nil {
		x.json(http.StatusOK, map[string]any{"subnet": fields(x, c.subnetBody(s))})
	}
}

type subnetRequest struct {
	Subnet *struct {
		NetworkID       string                        `json:"network_id"`
		Name            string                        `json:"name"`
		Description     string                        `json:"description"`
		CIDR            string                        `json:"cidr"`
		IPVersion       int                           `json:"ip_version"`
		GatewayIP       *string                       `json:"gateway_ip"`
		EnableDHCP      *bool                         `json:"enable_dhcp"`
		AllocationPools []struct{ Start, End string } `json:"allocation_pools"`
		DNSNameservers  []string                      `json:"dns_nameservers"`
		SubnetPoolID    string                        `json:"subnetpool_id"`
	} `json:"subnet"`
}

func (c *Cloud) createSubnet(x *call) {
	// gateway_ip: absent = the first host, null = no gateway.
	var raw struct {
		Subnet map[string]any `json:"subnet"`
	}
	var req subnetRequest
	body, ok := readBody(x)
	if !ok || !unmarshal(x, body, &req) || !unmarshal(x, body, &raw) {
		return
	}
	r := req.Subnet
	if r == nil {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", "Resource body required")
		return
	}
	n := c.visibleNetwork(x, r.NetworkID)
	if n == nil {
		return
	}
	if n.projectID != x.project() {
		x.neutronFail(http.StatusForbidden, "HTTPForbidden", "(rule:create_subnet and rule:create_subnet:network_id) is disallowed by policy")
		return
	}
	if r.SubnetPoolID != "" || r.CIDR == "" {
		x.neutronFail(http.StatusBadRequest, "BadRequest", "Bad subnets request: a cidr must be specified in the absence of a subnet pool.")
		return
	}
	prefix, err := netip.ParsePrefix(r.CIDR)
	if err != nil {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Invalid input for cidr. Reason: '%s' is not a valid IP subnet.", r.CIDR))
		return
	}
	if prefix.Masked() != prefix {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Invalid input for cidr. Reason: '%s' isn't a recommended CIDR, '%s' should be used instead.", r.CIDR, prefix.Masked()))
		return
	}
	version := 4
	if prefix.Addr().Is6() {
		version = 6
	}
	if r.IPVersion != version {
		x.neutronFail(http.StatusBadRequest, "InvalidInput", fmt.Sprintf("Invalid input for operation: Cidr %s does not match the IP version %d.", r.CIDR, r.IPVersion))
		return
	}
	for _, sid := range n.subnets {
		if o := c.subnets[sid]; o.prefix.Overlaps(prefix) {
			x.neutronFail(http.StatusBadRequest, "InvalidInput", fmt.Sprintf("Invalid input for operation: Requested subnet with cidr: %s for network: %s overlaps with another subnet.", r.CIDR, n.id))
			return
		}
	}
	now := time.Now()
	s := &subnet{id: newID(), name: r.Name, description: r.Description, projectID: x.project(), networkID: n.id, prefix: prefix,
		ipVersion: version, dhcp: true, dns: r.DNSNameservers, created: now, updated: now, revision: 0}
	if r.EnableDHCP != nil {
		s.dhcp = *r.EnableDHCP
	}
	if gw, present := raw.Subnet["gateway_ip"]; !present {
		s.gateway = prefix.Addr().Next().String()
	} else if gw != nil {
		g, err := netip.ParseAddr(fmt.Sprint(gw))
		if err != nil {
			x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Invalid input for gateway_ip. Reason: '%v' is not a valid IP address.", gw))
			return
		}
		if !prefix.Contains(g) {
			x.neutronFail(http.StatusBadRequest, "InvalidInput", fmt.Sprintf("Invalid input for operation: Gateway is not valid on subnet %s.", r.CIDR))
			return
		}
		s.gateway = g.String()
	}
	first, last := prefix.Addr().Next(), lastAddr(prefix)
	if version == 4 {
		last = last.Prev() // the broadcast address
	}
	if len(r.AllocationPools) == 0 {
		// The default pool is the whole range less the gateway.
		gw, _ := netip.ParseAddr(s.gateway)
		switch {
		case s.gateway == "":
			s.pools = []pool{{first, last}}
		case gw == first:
			s.pools = []pool{{first.Next(), last}}
		case gw == last:
			s.pools = []pool{{first, last.Prev()}}
		default:
			s.pools = []pool{{first, gw.Prev()}, {gw.Next(), last}}
		}
	}
	for _, p := range r.AllocationPools {
		start, err1 := netip.ParseAddr(p.Start)
		end, err2 := netip.ParseAddr(p.End)
		if err1 != nil || err2 != nil || end.Less(start) {
			x.neutronFail(http.StatusBadRequest, "InvalidAllocationPool", fmt.Sprintf("The allocation pool %s-%s is not valid.", p.Start, p.End))
			return
		}
		if !prefix.Contains(start) || !prefix.Contains(end) {
			x.neutronFail(http.StatusBadRequest, "OutOfBoundsAllocationPool", fmt.Sprintf("The allocation pool %s-%s spans beyond the subnet cidr %s.", p.Start, p.End, r.CIDR))
			return
		}
		if gw, err := netip.ParseAddr(s.gateway); err == nil && !gw.Less(start) && !end.Less(gw) {
			x.neutronFail(http.StatusConflict, "GatewayConflictWithAllocationPools", fmt.Sprintf("Gateway ip %s conflicts with allocation pool %s-%s.", s.gateway, p.Start, p.End))
			return
		}
		s.pools = append(s.pools, pool{start, end})
	}
	c.subnets[s.id] = s
	n.subnets = append(n.subnets, s.id)
	if s.dhcp && version == 4 {
		// The DHCP agent takes an address of the subnet for its port.
		now := time.Now()
		if ip, ok := c.allocate(s, Allocation{Kind: "fixed", NetworkID: n.id, SubnetID: s.id, CIDR: s.prefix.String(), PortName: ""}); ok {
			dp := &port{id: newID(), projectID: n.projectID, networkID: n.id, mac: c.newMAC(), deviceID: "dhcp" + newHex(),
				deviceOwner: "network:dhcp", status: "ACTIVE", adminUp: true, fixedIPs: []fixedIP{{s.id, ip}}, created: now, updated: now}
			c.ports[dp.id] = dp
		}
	}
	x.json(http.StatusCreated, map[string]any{"subnet": c.subnetBody(s)})
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	b := a.AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 1 << (7 - j)
			}
		}
	}
	out, _ := netip.AddrFromSlice(b)
	return out
}

func (c *Cloud) updateSubnet(x *call, id string) {
	s := c.visibleSubnet(x, id)
	if s == nil || !c.owns(x, s.projectID, "subnet", id) {
		return
	}
	var req struct {
		Subnet map[string]any `json:"subnet"`
	}
	if !x.decode(&req) {
		return
	}
	for k, v := range req.Subnet {
		switch k {
		case "name":
			s.name, _ = v.(string)
		case "description":
			s.description, _ = v.(string)
		case "enable_dhcp":
			s.dhcp, _ = v.(bool)
		case "dns_nameservers":
			s.dns = nil
			for _, d := range v.([]any) {
				s.dns = append(s.dns, fmt.Sprint(d))
			}
		case "gateway_ip", "allocation_pools", "host_routes":
			x.notImplemented()
			return
		default:
			x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Cannot update read-only attribute %s", k))
			return
		}
	}
	s.updated, s.revision = time.Now(), s.revision+1
	x.json(http.StatusOK, map[string]any{"subnet": c.subnetBody(s)})
}

func (c *Cloud) deleteSubnet(x *call, id string) {
	s := c.visibleSubnet(x, id)
	if s == nil || !c.owns(x, s.projectID, "subnet", id) {
		return
	}
	for _, p := range c.ports {
		if p.deviceOwner == "network:dhcp" {
			continue
		}
		for _, f := range p.fixedIPs {
			if f.subnetID == id {
				x.neutronFail(http.StatusConflict, "SubnetInUse", fmt.Sprintf("Unable to complete operation on subnet %s: One or more ports have an IP allocation from this subnet.", id))
				return
			}
		}
	}
	for _, p := range c.ports {
		if p.deviceOwner == "network:dhcp" {
			p.fixedIPs = slices.DeleteFunc(p.fixedIPs, func(f fixedIP) bool { return f.subnetID == id })
			if len(p.fixedIPs) == 0 {
				delete(c.ports, p.id)
			}
		}
	}
	n := c.networks[s.networkID]
	n.subnets = slices.DeleteFunc(n.subnets, func(sid string) bool { return sid == id })
	delete(c.subnets, id)
	x.empty(http.StatusNoContent)
}

// --- addresses ---

// allocate gives the next free address of a subnet (or the test's choice).
func (c *Cloud) allocate(s *subnet, a Allocation) (string, bool) {
	if c.opts.Allocate != nil {
		if ip, ok := c.opts.Allocate(a); ok {
			if addr, err := netip.ParseAddr(ip); err == nil && s.prefix.Contains(addr) && !c.ipInUse(s.id, ip) {
				return ip, true
			}
		}
	}
	for _, p := range s.pools {
		for ip := p.start; !p.end.Less(ip); ip = ip.Next() {
			if !c.ipInUse(s.id, ip.String()) {
				return ip.String(), true
			}
		}
	}
	return "", false
}

func (c *Cloud) ipInUse(subnetID, ip string) bool {
	for _, p := range c.ports {
		for _, f := range p.fixedIPs {
			if f.subnetID == subnetID && f.ip == ip {
				return true
			}
		}
	}
	return false
}

func (c *Cloud) newMAC() string {
	b := newHex()
	return "fa:16:3e:" + b[0:2] + ":" + b[2:4] + ":" + b[4:6]
}

// --- ports ---

func (c *Cloud) portBody(p *port) map[string]any {
	var fixed []any
	for _, f := range p.fixedIPs {
		fixed = append(fixed, map[string]any{"subnet_id": f.subnetID, "ip_address": f.ip})
	}
	return merge(map[string]any{"id": p.id, "name": p.name, "description": p.description, "network_id": p.networkID,
		"admin_state_up": p.adminUp, "status": p.status, "mac_address": p.mac, "fixed_ips": nonNil(fixed),
		"device_id": p.deviceID, "device_owner": p.deviceOwner, "security_groups": nonNilStrings(p.secGroups),
		"port_security_enabled": p.portSecurity, "allowed_address_pairs": []any{}, "extra_dhcp_opts": []any{},
		"binding:vnic_type": "normal", "binding:host_id": p.hostID, "binding:profile": map[string]any{}, "binding:vif_details": map[string]any{},
		"binding:vif_type": map[bool]string{true: "ovs", false: "unbound"}[p.hostID != ""], "dns_name": "", "dns_assignment": []any{},
		"propagate_uplink_status": false, "qos_policy_id": nil, "qos_network_policy_id": nil, "resource_request": nil,
	}, standard(p.projectID, p.created, p.updated, p.revision))
}

func (c *Cloud) visiblePort(x *call, id string) *port {
	p := c.ports[id]
	if p == nil || (p.projectID != x.project()) {
		x.neutronFail(http.StatusNotFound, "PortNotFound", fmt.Sprintf("Port %s could not be found.", id))
		return nil
	}
	return p
}

func (c *Cloud) listPorts(x *call) {
	var list []*port
	for _, p := range c.ports {
		if p.projectID == x.project() {
			list = append(list, p)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		return list[i].created.Before(list[j].created) || list[i].id < list[j].id && list[i].created.Equal(list[j].created)
	})
	var items []map[string]any
	for _, p := range list {
		items = append(items, c.portBody(p))
	}
	x.json(http.StatusOK, map[string]any{"ports": listOf(filter(x, items))})
}

func (c *Cloud) showPort(x *call, id string) {
	if p := c.visiblePort(x, id); p != nil {
		x.json(http.StatusOK, map[string]any{"port": fields(x, c.portBody(p))})
	}
}

type portRequest struct {
	NetworkID      string  `json:"network_id"`
	Name           *string `json:"name"`
	Description    *string `json:"description"`
	AdminStateUp   *bool   `json:"admin_state_up"`
	MACAddress     string  `json:"mac_address"`
	DeviceID       *string `json:"device_id"`
	DeviceOwner    *string `json:"device_owner"`
	PortSecurity   *bool   `json:"port_security_enabled"`
	SecurityGroups *[]string
	FixedIPs       *[]struct {
		SubnetID  string `json:"subnet_id"`
		IPAddress string `json:"ip_address"`
	} `json:"fixed_ips"`
}

func (c *Cloud) createPort(x *call) {
	var raw struct {
		Port map[string]any `json:"port"`
	}
	var req struct {
		Port *portRequest `json:"port"`
	}
	body, ok := readBody(x)
	if !ok || !unmarshal(x, body, &req) || !unmarshal(x, body, &raw) {
		return
	}
	if req.Port == nil {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", "Resource body required")
		return
	}
	r := req.Port
	if sgs, present := raw.Port["security_groups"]; present {
		list := []string{}
		if arr, ok := sgs.([]any); ok {
			for _, v := range arr {
				list = append(list, fmt.Sprint(v))
			}
		}
		r.SecurityGroups = &list
	}
	n := c.visibleNetwork(x, r.NetworkID)
	if n == nil {
		return
	}
	if c.count(x.project(), "port") >= c.quota(x.project()).Ports {
		x.neutronFail(http.StatusConflict, "OverQuota", "Quota exceeded for resources: ['port'].")
		return
	}
	var fixed []fixedIP
	if r.FixedIPs != nil {
		for _, f := range *r.FixedIPs {
			fixed = append(fixed, fixedIP{subnetID: f.SubnetID, ip: f.IPAddress})
		}
		if len(fixed) == 0 {
			fixed = []fixedIP{} // an explicit empty list: no address
		}
	}
	var sgIDs []string
	if r.SecurityGroups != nil {
		for _, id := range *r.SecurityGroups {
			sg := c.secgroups[id]
			if sg == nil || sg.projectID != x.project() {
				x.neutronFail(http.StatusNotFound, "SecurityGroupNotFound", fmt.Sprintf("Security group %s does not exist", id))
				return
			}
			sgIDs = append(sgIDs, id)
		}
		if sgIDs == nil {
			sgIDs = []string{}
		}
	}
	portSecurity := n.portSecurity
	if r.PortSecurity != nil {
		portSecurity = *r.PortSecurity
	}
	if !portSecurity && len(sgIDs) > 0 {
		x.neutronFail(http.StatusBadRequest, "PortSecurityAndIPRequiredForSecurityGroups", "Port security must be enabled and port must have an IP address in order to use security groups.")
		return
	}
	if !portSecurity && sgIDs == nil {
		sgIDs = []string{}
	}
	name := ""
	if r.Name != nil {
		name = *r.Name
	}
	p, status, msg := c.newPort(x.project(), n, name, fixed, sgIDs, nil)
	if msg != "" {
		typ := map[int]string{400: "InvalidInput", 409: "IpAddressAlreadyAllocated"}[status]
		if strings.HasPrefix(msg, "No more IP addresses") {
			typ = "IpAddressGenerationFailure"
		}
		x.neutronFail(status, typ, msg)
		return
	}
	p.portSecurity = portSecurity
	if r.Description != nil {
		p.description = *r.Description
	}
	if r.AdminStateUp != nil {
		p.adminUp = *r.AdminStateUp
	}
	if r.DeviceID != nil {
		p.deviceID = *r.DeviceID
	}
	if r.DeviceOwner != nil {
		p.deviceOwner = *r.DeviceOwner
	}
	if r.MACAddress != "" {
		p.mac = r.MACAddress
	}
	x.json(http.StatusCreated, map[string]any{"port": c.portBody(p)})
}

// newPort makes a port on n with the given fixed IPs (nil: one address from
// each IPv4 subnet, as Neutron does) and security groups (nil: the project's
// default group). On failure it returns the status and message Neutron answers.
func (c *Cloud) newPort(projectID string, n *network, name string, fixed []fixedIP, sgIDs []string, for_ *server) (*port, int, string) {
	now := time.Now()
	p := &port{id: newID(), name: name, projectID: projectID, networkID: n.id, mac: c.newMAC(), status: "DOWN",
		adminUp: true, portSecurity: n.portSecurity, created: now, updated: now, revision: 1}
	alloc := Allocation{Kind: "fixed", NetworkID: n.id, PortName: name}
	if for_ != nil {
		alloc.DeviceID, alloc.DeviceName = for_.id, for_.name
	}
	if fixed == nil {
		for _, sid := range n.subnets {
			s := c.subnets[sid]
			if s.ipVersion != 4 {
				continue
			}
			a := alloc
			a.SubnetID, a.CIDR = s.id, s.prefix.String()
			ip, ok := c.allocate(s, a)
			if !ok {
				return nil, http.StatusConflict, fmt.Sprintf("No more IP addresses available on network %s.", n.id)
			}
			p.fixedIPs = append(p.fixedIPs, fixedIP{s.id, ip})
		}
	}
	for _, f := range fixed {
		var s *subnet
		if f.subnetID != "" {
			s = c.subnets[f.subnetID]
			if s == nil || s.networkID != n.id {
				return nil, http.StatusBadRequest, fmt.Sprintf("Invalid input for operation: Failed to create port on network %s, because fixed_ips included invalid subnet %s.", n.id, f.subnetID)
			}
		}
		if f.ip == "" {
			a := alloc
			a.SubnetID, a.CIDR = s.id, s.prefix.String()
			ip, ok := c.allocate(s, a)
			if !ok {
				return nil, http.StatusConflict, fmt.Sprintf("No more IP addresses available on network %s.", n.id)
			}
			p.fixedIPs = append(p.fixedIPs, fixedIP{s.id, ip})
			continue
		}
		addr, err := netip.ParseAddr(f.ip)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Sprintf("Invalid input for ip_address. Reason: '%s' is not a valid IP address.", f.ip)
		}
		if s == nil {
			for _, sid := range n.subnets {
				if c.subnets[sid].prefix.Contains(addr) {
					s = c.subnets[sid]
				}
			}
			if s == nil {
				return nil, http.StatusBadRequest, fmt.Sprintf("Invalid input for operation: IP address %s is not a valid IP for any of the subnets on the specified network.", f.ip)
			}
		}
		if !s.prefix.Contains(addr) {
			return nil, http.StatusBadRequest, fmt.Sprintf("Invalid input for operation: IP address %s is not a valid IP for the specified subnet.", f.ip)
		}
		if c.ipInUse(s.id, addr.String()) {
			return nil, http.StatusConflict, fmt.Sprintf("IP address %s already allocated in subnet %s", f.ip, s.id)
		}
		p.fixedIPs = append(p.fixedIPs, fixedIP{s.id, addr.String()})
	}
	if sgIDs == nil {
		sgIDs = []string{c.defaultSecgroup(projectID).id}
	}
	p.secGroups = sgIDs
	c.ports[p.id] = p
	return p, 0, ""
}

func (c *Cloud) updatePort(x *call, id string) {
	p := c.visiblePort(x, id)
	if p == nil {
		return
	}
	var req struct {
		Port map[string]any `json:"port"`
	}
	if !x.decode(&req) {
		return
	}
	for k, v := range req.Port {
		switch k {
		case "name":
			p.name, _ = v.(string)
		case "description":
			p.description, _ = v.(string)
		case "admin_state_up":
			p.adminUp, _ = v.(bool)
		case "device_id":
			p.deviceID, _ = v.(string)
		case "device_owner":
			p.deviceOwner, _ = v.(string)
		case "port_security_enabled":
			p.portSecurity, _ = v.(bool)
		case "security_groups":
			var ids []string
			list, _ := v.([]any)
			for _, raw := range list {
				sid := fmt.Sprint(raw)
				if sg := c.secgroups[sid]; sg == nil || sg.projectID != x.project() {
					x.neutronFail(http.StatusNotFound, "SecurityGroupNotFound", fmt.Sprintf("Security group %s does not exist", sid))
					return
				}
				if !slices.Contains(ids, sid) {
					ids = append(ids, sid)
				}
			}
			if len(ids) > 0 && !p.portSecurity {
				x.neutronFail(http.StatusBadRequest, "PortSecurityAndIPRequiredForSecurityGroups", "Port security must be enabled and port must have an IP address in order to use security groups.")
				return
			}
			p.secGroups = nonNilStrings(ids)
		case "allowed_address_pairs", "extra_dhcp_opts", "binding:vnic_type", "binding:host_id", "binding:profile", "dns_name", "qos_policy_id", "value_specs":
		case "fixed_ips":
			x.notImplemented()
			return
		default:
			x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Cannot update read-only attribute %s", k))
			return
		}
	}
	p.updated, p.revision = time.Now(), p.revision+1
	x.json(http.StatusOK, map[string]any{"port": c.portBody(p)})
}

func (c *Cloud) deletePort(x *call, id string) {
	p := c.visiblePort(x, id)
	if p == nil {
		return
	}
	if p.deviceOwner == "network:router_interface" || p.deviceOwner == "network:router_gateway" {
		x.neutronFail(http.StatusConflict, "L3PortInUse", fmt.Sprintf("Port %s cannot be deleted directly via the port API: has device owner %s.", id, p.deviceOwner))
		return
	}
	c.removePort(p)
	x.empty(http.StatusNoContent)
}

// removePort deletes a port: its floating IPs are disassociated and its server
// loses the interface.
func (c *Cloud) removePort(p *port) {
	for _, f := range c.fips {
		if f.portID == p.id {
			f.portID, f.fixedIP, f.routerID = "", "", ""
		}
	}
	if s := c.servers[p.deviceID]; s != nil {
		s.ports = slices.DeleteFunc(s.ports, func(id string) bool { return id == p.id })
	}
	delete(c.ports, p.id)
}

// --- security groups ---

// defaultSecgroup is a project's "default" group, made on first use.
func (c *Cloud) defaultSecgroup(projectID string) *secgroup {
	for _, sg := range c.secgroups {
		if sg.projectID == projectID && sg.name == "default" {
			return sg
		}
	}
	now := time.Now()
	sg := &secgroup{id: newID(), name: "default", description: "Default security group", projectID: projectID, stateful: true, created: now, updated: now}
	c.secgroups[sg.id] = sg
	c.seeded[sg.id] = true
	for _, eth := range []string{"IPv4", "IPv6"} {
		c.addRule(&rule{id: newID(), groupID: sg.id, direction: "ingress", ethertype: eth, projectID: projectID, remoteGroup: sg.id, created: now})
		c.addRule(&rule{id: newID(), groupID: sg.id, direction: "egress", ethertype: eth, projectID: projectID, created: now})
	}
	return sg
}

func (c *Cloud) addRule(r *rule) {
	c.rules[r.id] = r
}

func (c *Cloud) secgroupByNameOrID(projectID, ref string) *secgroup {
	if sg := c.secgroups[ref]; sg != nil && sg.projectID == projectID {
		return sg
	}
	for _, sg := range c.secgroups {
		if sg.projectID == projectID && sg.name == ref {
			return sg
		}
	}
	return nil
}

func (c *Cloud) secgroupRules(sgID string) []*rule {
	var out []*rule
	for _, r := range c.rules {
		if r.groupID == sgID {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].created.Before(out[j].created) || out[i].id < out[j].id && out[i].created.Equal(out[j].created)
	})
	return out
}

func (c *Cloud) secgroupBody(sg *secgroup) map[string]any {
	var rules []any
	for _, r := range c.secgroupRules(sg.id) {
		rules = append(rules, c.ruleBody(r))
	}
	return merge(map[string]any{"id": sg.id, "name": sg.name, "description": sg.description, "stateful": sg.stateful,
		"security_group_rules": nonNil(rules), "shared": false}, standard(sg.projectID, sg.created, sg.updated, sg.revision))
}

func (c *Cloud) visibleSecgroup(x *call, id string) *secgroup {
	sg := c.secgroups[id]
	if sg == nil || sg.projectID != x.project() {
		x.neutronFail(http.StatusNotFound, "SecurityGroupNotFound", fmt.Sprintf("Security group %s does not exist", id))
		return nil
	}
	return sg
}

func (c *Cloud) listSecgroups(x *call) {
	var list []*secgroup
	for _, sg := range c.secgroups {
		if sg.projectID == x.project() {
			list = append(list, sg)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		return list[i].created.Before(list[j].created) || list[i].id < list[j].id && list[i].created.Equal(list[j].created)
	})
	var items []map[string]any
	for _, sg := range list {
		items = append(items, c.secgroupBody(sg))
	}
	x.json(http.StatusOK, map[string]any{"security_groups": listOf(filter(x, items))})
}

func (c *Cloud) showSecgroup(x *call, id string) {
	if sg := c.visibleSecgroup(x, id); sg != nil {
		x.json(http.StatusOK, map[string]any{"security_group": fields(x, c.secgroupBody(sg))})
	}
}

func (c *Cloud) createSecgroup(x *call) {
	var req struct {
		SecurityGroup *struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			Stateful    *bool  `json:"stateful"`
		} `json:"security_group"`
	}
	if !x.decode(&req) {
		return
	}
	if req.SecurityGroup == nil {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", "Resource body required")
		return
	}
	r := req.SecurityGroup
	if r.Name == "default" {
		x.neutronFail(http.StatusConflict, "SecurityGroupDefaultAlreadyExists", "Default security group already exists.")
		return
	}
	if len(r.Name) > 255 {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for name. Reason: '"+r.Name+"' exceeds maximum length of 255.")
		return
	}
	if c.count(x.project(), "security_group") >= c.quota(x.project()).SecGroups {
		x.neutronFail(http.StatusConflict, "OverQuota", "Quota exceeded for resources: ['security_group'].")
		return
	}
	now := time.Now()
	sg := &secgroup{id: newID(), name: r.Name, description: r.Description, projectID: x.project(), stateful: true, created: now, updated: now, revision: 1}
	if r.Stateful != nil {
		sg.stateful = *r.Stateful
	}
	c.secgroups[sg.id] = sg
	for _, eth := range []string{"IPv4", "IPv6"} {
		c.addRule(&rule{id: newID(), groupID: sg.id, direction: "egress", ethertype: eth, projectID: x.project(), created: now})
	}
	x.json(http.StatusCreated, map[string]any{"security_group": c.secgroupBody(sg)})
}

func (c *Cloud) updateSecgroup(x *call, id string) {
	sg := c.visibleSecgroup(x, id)
	if sg == nil {
		return
	}
	var req struct {
		SecurityGroup map[string]any `json:"security_group"`
	}
	if !x.decode(&req) {
		return
	}
	for k, v := range req.SecurityGroup {
		switch k {
		case "name":
			sg.name, _ = v.(string)
		case "description":
			sg.description, _ = v.(string)
		case "stateful":
			sg.stateful, _ = v.(bool)
		default:
			x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Cannot update read-only attribute %s", k))
			return
		}
	}
	sg.updated, sg.revision = time.Now(), sg.revision+1
	x.json(http.StatusOK, map[string]any{"security_group": c.secgroupBody(sg)})
}

func (c *Cloud) deleteSecgroup(x *call, id string) {
	sg := c.visibleSecgroup(x, id)
	if sg == nil {
		return
	}
	if sg.name == "default" {
		x.neutronFail(http.StatusConflict, "SecurityGroupCannotRemoveDefault", "Insufficient rights for removing default security group.")
		return
	}
	for _, p := range c.ports {
		if slices.Contains(p.secGroups, id) {
			x.neutronFail(http.StatusConflict, "SecurityGroupInUse", fmt.Sprintf("Security Group %s in use.", id))
			return
		}
	}
	for _, r := range c.rules {
		if r.groupID == id {
			delete(c.rules, r.id)
		}
	}
	delete(c.secgroups, id)
	x.empty(http.StatusNoContent)
}

// --- security group rules ---

func (c *Cloud) ruleBody(r *rule) map[string]any {
	return map[string]any{"id": r.id, "security_group_id": r.groupID, "direction": r.direction, "ethertype": r.ethertype,
		"protocol": nilIfEmpty(r.protocol), "port_range_min": intOrNil(r.min), "port_range_max": intOrNil(r.max),
		"remote_ip_prefix": nilIfEmpty(r.remoteIP), "remote_group_id": nilIfEmpty(r.remoteGroup), "remote_address_group_id": nil,
		"description": r.description, "tenant_id": r.projectID, "project_id": r.projectID, "normalized_cidr": nilIfEmpty(r.remoteIP),
		"created_at": stamp(r.created), "updated_at": stamp(r.created), "revision_number": 0, "tags": []any{}, "belongs_to_default_sg": false}
}

func intOrNil(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func (c *Cloud) visibleRule(x *call, id string) *rule {
	r := c.rules[id]
	if r == nil || r.projectID != x.project() {
		x.neutronFail(http.StatusNotFound, "SecurityGroupRuleNotFound", fmt.Sprintf("Security group rule %s does not exist", id))
		return nil
	}
	return r
}

func (c *Cloud) listRules(x *call) {
	var list []*rule
	for _, r := range c.rules {
		if r.projectID == x.project() {
			list = append(list, r)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	var items []map[string]any
	for _, r := range list {
		items = append(items, c.ruleBody(r))
	}
	x.json(http.StatusOK, map[string]any{"security_group_rules": listOf(filter(x, items))})
}

func (c *Cloud) showRule(x *call, id string) {
	if r := c.visibleRule(x, id); r != nil {
		x.json(http.StatusOK, map[string]any{"security_group_rule": fields(x, c.ruleBody(r))})
	}
}

var protocolNumbers = map[string]int{"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "sctp": 132, "gre": 47, "esp": 50, "ah": 51, "vrrp": 112}

func (c *Cloud) createRule(x *call) {
	var req struct {
		Rule *struct {
			SecurityGroupID string  `json:"security_group_id"`
			Direction       string  `json:"direction"`
			Ethertype       string  `json:"ethertype"`
			Protocol        *string `json:"protocol"`
			PortRangeMin    *int    `json:"port_range_min"`
			PortRangeMax    *int    `json:"port_range_max"`
			RemoteIPPrefix  string  `json:"remote_ip_prefix"`
			RemoteGroupID   string  `json:"remote_group_id"`
			Description     string  `json:"description"`
		} `json:"security_group_rule"`
	}
	if !x.decode(&req) {
		return
	}
	r := req.Rule
	if r == nil {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", "Resource body required")
		return
	}
	sg := c.visibleSecgroup(x, r.SecurityGroupID)
	if sg == nil {
		return
	}
	if r.Direction != "ingress" && r.Direction != "egress" {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Invalid input for direction. Reason: %s is not in ['ingress', 'egress'].", r.Direction))
		return
	}
	if r.Ethertype == "" {
		r.Ethertype = "IPv4"
	}
	if r.Ethertype != "IPv4" && r.Ethertype != "IPv6" {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Invalid input for ethertype. Reason: %s is not in ['IPv4', 'IPv6'].", r.Ethertype))
		return
	}
	proto := ""
	if r.Protocol != nil {
		proto = strings.ToLower(*r.Protocol)
		if _, known := protocolNumbers[proto]; !known {
			if n, err := strconv.Atoi(proto); err != nil || n < 0 || n > 255 {
				x.neutronFail(http.StatusBadRequest, "SecurityGroupRuleInvalidProtocol", fmt.Sprintf("Security group rule protocol %s not supported. Only protocol values [None, 'ah', 'dccp', 'egp', 'esp', 'gre', 'icmp', 'icmpv6', 'igmp', 'ipip', 'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', 'udplite', 'vrrp'] and integer representations [0 to 255] are supported.", proto))
				return
			}
		}
	}
	if (r.PortRangeMin != nil || r.PortRangeMax != nil) && proto == "" {
		x.neutronFail(http.StatusBadRequest, "SecurityGroupProtocolRequiredWithPorts", "Must also specify protocol if port range is given.")
		return
	}
	if proto == "tcp" || proto == "udp" || proto == "sctp" {
		if r.PortRangeMin != nil && r.PortRangeMax != nil && *r.PortRangeMin > *r.PortRangeMax {
			x.neutronFail(http.StatusBadRequest, "SecurityGroupInvalidPortRange", "For TCP/UDP protocols, port_range_min must be <= port_range_max")
			return
		}
		for _, p := range []*int{r.PortRangeMin, r.PortRangeMax} {
			if p != nil && (*p < 1 || *p > 65535) {
				x.neutronFail(http.StatusBadRequest, "SecurityGroupInvalidPortValue", fmt.Sprintf("Invalid value for port %d", *p))
				return
			}
		}
	}
	remote := ""
	if r.RemoteIPPrefix != "" {
		pfx, err := netip.ParsePrefix(r.RemoteIPPrefix)
		if err != nil {
			if a, err2 := netip.ParseAddr(r.RemoteIPPrefix); err2 == nil {
				pfx = netip.PrefixFrom(a, a.BitLen())
			} else {
				x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Invalid input for remote_ip_prefix. Reason: '%s' is not a valid IP subnet.", r.RemoteIPPrefix))
				return
			}
		}
		if (pfx.Addr().Is4() && r.Ethertype != "IPv4") || (pfx.Addr().Is6() && r.Ethertype != "IPv6") {
			x.neutronFail(http.StatusBadRequest, "SecurityGroupRuleParameterConflict", fmt.Sprintf("Conflicting value ethertype %s for CIDR %s", r.Ethertype, r.RemoteIPPrefix))
			return
		}
		remote = pfx.Masked().String()
	}
	if r.RemoteGroupID != "" && c.secgroupByNameOrID(x.project(), r.RemoteGroupID) == nil {
		x.neutronFail(http.StatusNotFound, "SecurityGroupNotFound", fmt.Sprintf("Security group %s does not exist", r.RemoteGroupID))
		return
	}
	nr := &rule{id: newID(), groupID: sg.id, direction: r.Direction, ethertype: r.Ethertype, projectID: x.project(),
		description: r.Description, protocol: proto, remoteIP: remote, remoteGroup: r.RemoteGroupID, min: r.PortRangeMin, max: r.PortRangeMax, created: time.Now()}
	for _, o := range c.secgroupRules(sg.id) {
		if o.direction == nr.direction && o.ethertype == nr.ethertype && o.protocol == nr.protocol && o.remoteIP == nr.remoteIP &&
			o.remoteGroup == nr.remoteGroup && fmt.Sprint(intOrNil(o.min)) == fmt.Sprint(intOrNil(nr.min)) && fmt.Sprint(intOrNil(o.max)) == fmt.Sprint(intOrNil(nr.max)) {
			x.neutronFail(http.StatusConflict, "SecurityGroupRuleExists", fmt.Sprintf("Security group rule already exists. Rule id is %s.", o.id))
			return
		}
	}
	c.addRule(nr)
	x.json(http.StatusCreated, map[string]any{"security_group_rule": c.ruleBody(nr)})
}

func (c *Cloud) deleteRule(x *call, id string) {
	if r := c.visibleRule(x, id); r != nil {
		delete(c.rules, id)
		x.empty(http.StatusNoContent)
	}
}

// --- routers ---

func (c *Cloud) routerBody(r *router) map[string]any {
	var gw any
	if r.gwNetworkID != "" {
		var ips []any
		if p := c.ports[r.gwPortID]; p != nil {
			for _, f := range p.fixedIPs {
				ips = append(ips, map[string]any{"subnet_id": f.subnetID, "ip_address": f.ip})
			}
		}
		gw = map[string]any{"network_id": r.gwNetworkID, "enable_snat": r.snat, "external_fixed_ips": nonNil(ips)}
	}
	return merge(map[string]any{"id": r.id, "name": r.name, "description": r.description, "admin_state_up": r.adminUp,
		"status": "ACTIVE", "external_gateway_info": gw, "routes": []any{}, "distributed": false, "ha": false,
		"availability_zone_hints": []any{}, "availability_zones": []any{"nova"}, "flavor_id": nil,
	}, standard(r.projectID, r.created, r.updated, r.revision))
}

func (c *Cloud) visibleRouter(x *call, id string) *router {
	r := c.routers[id]
	if r == nil || r.projectID != x.project() {
		x.neutronFail(http.StatusNotFound, "RouterNotFound", fmt.Sprintf("Router %s could not be found", id))
		return nil
	}
	return r
}

func (c *Cloud) listRouters(x *call) {
	var list []*router
	for _, r := range c.routers {
		if r.projectID == x.project() {
			list = append(list, r)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		return list[i].created.Before(list[j].created) || list[i].id < list[j].id && list[i].created.Equal(list[j].created)
	})
	var items []map[string]any
	for _, r := range list {
		items = append(items, c.routerBody(r))
	}
	x.json(http.StatusOK, map[string]any{"routers": listOf(filter(x, items))})
}

func (c *Cloud) showRouter(x *call, id string) {
	if r := c.visibleRouter(x, id); r != nil {
		x.json(http.StatusOK, map[string]any{"router": fields(x, c.routerBody(r))})
	}
}

func (c *Cloud) createRouter(x *call) {
	var req struct {
		Router map[string]any `json:"router"`
	}
	if !x.decode(&req) {
		return
	}
	if req.Router == nil {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", "Resource body required")
		return
	}
	if c.count(x.project(), "router") >= c.quota(x.project()).Routers {
		x.neutronFail(http.StatusConflict, "OverQuota", "Quota exceeded for resources: ['router'].")
		return
	}
	now := time.Now()
	r := &router{id: newID(), projectID: x.project(), adminUp: true, created: now, updated: now, revision: 1}
	if !c.applyRouter(x, r, req.Router) {
		return
	}
	c.routers[r.id] = r
	x.json(http.StatusCreated, map[string]any{"router": c.routerBody(r)})
}

func (c *Cloud) applyRouter(x *call, r *router, m map[string]any) bool {
	for k, v := range m {
		switch k {
		case "name":
			r.name, _ = v.(string)
		case "description":
			r.description, _ = v.(string)
		case "admin_state_up":
			r.adminUp, _ = v.(bool)
		case "external_gateway_info":
			gw, _ := v.(map[string]any)
			netID, _ := gw["network_id"].(string)
			if !c.setGateway(x, r, netID, gw) {
				return false
			}
		case "distributed", "ha", "availability_zone_hints", "tenant_id", "project_id", "routes", "flavor_id":
		default:
			x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Unrecognized attribute(s) '%s'", k))
			return false
		}
	}
	return true
}

// setGateway sets (or, with netID "", clears) a router's external gateway.
func (c *Cloud) setGateway(x *call, r *router, netID string, gw map[string]any) bool {
	if netID == r.gwNetworkID {
		if snat, ok := gw["enable_snat"].(bool); ok {
			r.snat = snat
		}
		return true
	}
	if netID != "" {
		n := c.networks[netID]
		if n == nil || !n.visibleTo(x.project()) {
			x.neutronFail(http.StatusNotFound, "NetworkNotFound", fmt.Sprintf("Network %s could not be found.", netID))
			return false
		}
		if !n.external {
			x.neutronFail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Bad router request: Network %s is not an external network.", netID))
			return false
		}
	}
	if r.gwPortID != "" {
		for _, f := range c.fips {
			if f.routerID == r.id {
				x.neutronFail(http.StatusConflict, "RouterExternalGatewayInUseByFloatingIp", fmt.Sprintf("Gateway cannot be updated for router %s, since a gateway to external network %s is required by one or more floating IPs.", r.id, r.gwNetworkID))
				return false
			}
		}
		delete(c.ports, r.gwPortID)
		r.gwPortID, r.gwNetworkID = "", ""
	}
	if netID == "" {
		return true
	}
	n := c.networks[netID]
	p, status, msg := c.newPort("", n, "", nil, []string{}, nil)
	if msg != "" {
		x.neutronFail(status, "IpAddressGenerationFailure", msg)
		return false
	}
	p.deviceID, p.deviceOwner, p.status = r.id, "network:router_gateway", "ACTIVE"
	r.gwPortID, r.gwNetworkID, r.snat = p.id, netID, true
	if snat, ok := gw["enable_snat"].(bool); ok {
		r.snat = snat
	}
	return true
}

func (c *Cloud) updateRouter(x *call, id string) {
	r := c.visibleRouter(x, id)
	if r == nil {
		return
	}
	var req struct {
		Router map[string]any `json:"router"`
	}
	if !x.decode(&req) || !c.applyRouter(x, r, req.Router) {
		return
	}
	r.updated, r.revision = time.Now(), r.revision+1
	x.json(http.StatusOK, map[string]any{"router": c.routerBody(r)})
}

func (c *Cloud) routerInterfaces(routerID string) []*port {
	var out []*port
	for _, p := range c.ports {
		if p.deviceID == routerID && p.deviceOwner == "network:router_interface" {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].created.Before(out[j].created) })
	return out
}

func (c *Cloud) deleteRouter(x *call, id string) {
	r := c.visibleRouter(x, id)
	if r == nil {
		return
	}
	if len(c.routerInterfaces(id)) > 0 {
		x.neutronFail(http.StatusConflict, "RouterInUse", fmt.Sprintf("Router %s still has ports", id))
		return
	}
	if !c.setGateway(x, r, "", nil) {
		return
	}
	delete(c.routers, id)
	x.empty(http.StatusNoContent)
}

func (c *Cloud) addRouterInterface(x *call, id string) {
	r := c.visibleRouter(x, id)
	if r == nil {
		return
	}
	var req struct {
		SubnetID string `json:"subnet_id"`
		PortID   string `json:"port_id"`
	}
	if !x.decode(&req) {
		return
	}
	var p *port
	switch {
	case req.SubnetID != "" && req.PortID != "":
		x.neutronFail(http.StatusBadRequest, "BadRequest", "Bad router request: Cannot specify both subnet-id and port-id.")
		return
	case req.SubnetID != "":
		s := c.visibleSubnet(x, req.SubnetID)
		if s == nil {
			return
		}
		if s.gateway == "" {
			x.neutronFail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Bad router request: Subnet for router interface must have a gateway IP."))
			return
		}
		for _, o := range c.routerInterfaces(id) {
			for _, f := range o.fixedIPs {
				if f.subnetID == s.id {
					x.neutronFail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Bad router request: Router already has a port on subnet %s.", s.id))
					return
				}
			}
		}
		if c.ipInUse(s.id, s.gateway) {
			x.neutronFail(http.StatusConflict, "IpAddressAlreadyAllocated", fmt.Sprintf("IP address %s already allocated in subnet %s", s.gateway, s.id))
			return
		}
		np, status, msg := c.newPort(x.project(), c.networks[s.networkID], "", []fixedIP{{s.id, s.gateway}}, []string{}, nil)
		if msg != "" {
			x.neutronFail(status, "BadRequest", msg)
			return
		}
		p = np
	case req.PortID != "":
		p = c.visiblePort(x, req.PortID)
		if p == nil {
			return
		}
		if p.deviceID != "" {
			x.neutronFail(http.StatusConflict, "PortInUse", fmt.Sprintf("Unable to complete operation on port %s for network %s. Port already has an attached device %s.", p.id, p.networkID, p.deviceID))
			return
		}
		if len(p.fixedIPs) == 0 {
			x.neutronFail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Bad router request: Router port must have at least one fixed IP."))
			return
		}
	default:
		x.neutronFail(http.StatusBadRequest, "BadRequest", "Bad router request: Either subnet_id or port_id must be specified.")
		return
	}
	p.deviceID, p.deviceOwner, p.status = r.id, "network:router_interface", "ACTIVE"
	var subnetIDs []string
	for _, f := range p.fixedIPs {
		subnetIDs = append(subnetIDs, f.subnetID)
	}
	x.json(http.StatusOK, map[string]any{"id": r.id, "tenant_id": r.projectID, "project_id": r.projectID, "port_id": p.id,
		"network_id": p.networkID, "subnet_id": subnetIDs[0], "subnet_ids": subnetIDs})
}

func (c *Cloud) removeRouterInterface(x *call, id string) {
	r := c.visibleRouter(x, id)
	if r == nil {
		return
	}
	var req struct {
		SubnetID string `json:"subnet_id"`
		PortID   string `json:"port_id"`
	}
	if !x.decode(&req) {
		return
	}
	var p *port
	for _, o := range c.routerInterfaces(id) {
		if o.id == req.PortID {
			p = o
		}
		for _, f := range o.fixedIPs {
			if req.PortID == "" && f.subnetID == req.SubnetID {
				p = o
			}
		}
	}
	if p == nil {
		if req.PortID != "" {
			x.neutronFail(http.StatusNotFound, "RouterInterfaceNotFound", fmt.Sprintf("Router %s does not have an interface with id %s", id, req.PortID))
		} else {
			x.neutronFail(http.StatusNotFound, "RouterInterfaceNotFoundForSubnet", fmt.Sprintf("Router %s has no interface on subnet %s", id, req.SubnetID))
		}
		return
	}
	// Floating IPs reach their ports through this interface: Neutron refuses.
	for _, f := range p.fixedIPs {
		for _, fip := range c.fips {
			if fip.routerID != id || fip.portID == "" {
				continue
			}
			if fp := c.ports[fip.portID]; fp != nil && slices.ContainsFunc(fp.fixedIPs, func(g fixedIP) bool { return g.subnetID == f.subnetID }) {
				x.neutronFail(http.StatusConflict, "RouterInterfaceInUseByFloatingIP",
					fmt.Sprintf("Router interface for subnet %s on router %s cannot be deleted, as it is required by one or more floating IPs.", f.subnetID, id))
				return
			}
		}
	}
	delete(c.ports, p.id)
	var subnetIDs []string
	for _, f := range p.fixedIPs {
		subnetIDs = append(subnetIDs, f.subnetID)
	}
	x.json(http.StatusOK, map[string]any{"id": r.id, "tenant_id": r.projectID, "project_id": r.projectID, "port_id": p.id,
		"network_id": p.networkID, "subnet_id": subnetIDs[0], "subnet_ids": subnetIDs})
}

// --- floating IPs ---

func (c *Cloud) sortedFIPs() []*floatingIP {
	var out []*floatingIP
	for _, f := range c.fips {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].created.Before(out[j].created) || out[i].id < out[j].id && out[i].created.Equal(out[j].created)
	})
	return out
}

func (c *Cloud) fipBody(f *floatingIP) map[string]any {
	status := "DOWN"
	if p := c.ports[f.portID]; p != nil && p.status == "ACTIVE" {
		status = "ACTIVE"
	}
	var details any
	if p := c.ports[f.portID]; p != nil {
		details = map[string]any{"name": p.name, "network_id": p.networkID, "mac_address": p.mac, "admin_state_up": p.adminUp,
			"status": p.status, "device_id": p.deviceID, "device_owner": p.deviceOwner}
	}
	return merge(map[string]any{"id": f.id, "floating_ip_address": f.address, "floating_network_id": f.networkID,
		"router_id": nilIfEmpty(f.routerID), "port_id": nilIfEmpty(f.portID), "fixed_ip_address": nilIfEmpty(f.fixedIP),
		"status": status, "description": f.description, "port_details": details, "dns_domain": "", "dns_name": "", "qos_policy_id": nil,
	}, standard(f.projectID, f.created, f.updated, f.revision))
}

func (c *Cloud) visibleFIP(x *call, id string) *floatingIP {
	f := c.fips[id]
	if f == nil || f.projectID != x.project() {
		x.neutronFail(http.StatusNotFound, "FloatingIPNotFound", fmt.Sprintf("Floating IP %s could not be found", id))
		return nil
	}
	return f
}

func (c *Cloud) listFIPs(x *call) {
	var items []map[string]any
	for _, f := range c.sortedFIPs() {
		if f.projectID == x.project() {
			items = append(items, c.fipBody(f))
		}
	}
	x.json(http.StatusOK, map[string]any{"floatingips": listOf(filter(x, items))})
}

func (c *Cloud) showFIP(x *call, id string) {
	if f := c.visibleFIP(x, id); f != nil {
		x.json(http.StatusOK, map[string]any{"floatingip": fields(x, c.fipBody(f))})
	}
}

type fipRequest struct {
	FloatingNetworkID string  `json:"floating_network_id"`
	FloatingIPAddress string  `json:"floating_ip_address"`
	SubnetID          string  `json:"subnet_id"`
	PortID            *string `json:"port_id"`
	FixedIPAddress    string  `json:"fixed_ip_address"`
	Description       *string `json:"description"`
}

func (c *Cloud) createFIP(x *call) {
	var req struct {
		FloatingIP *fipRequest `json:"floatingip"`
	}
	if !x.decode(&req) {
		return
	}
	r := req.FloatingIP
	if r == nil {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", "Resource body required")
		return
	}
	n := c.networks[r.FloatingNetworkID]
	if n == nil || !n.visibleTo(x.project()) {
		x.neutronFail(http.StatusNotFound, "NetworkNotFound", fmt.Sprintf("Network %s could not be found.", r.FloatingNetworkID))
		return
	}
	if !n.external {
		x.neutronFail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Bad floatingip request: Network %s is not a valid external network.", n.id))
		return
	}
	if c.count(x.project(), "floatingip") >= c.quota(x.project()).FloatingIPs {
		x.neutronFail(http.StatusConflict, "OverQuota", "Quota exceeded for resources: ['floatingip'].")
		return
	}
	now := time.Now()
	f := &floatingIP{id: newID(), projectID: x.project(), networkID: n.id, created: now, updated: now, revision: 0}
	if r.Description != nil {
		f.description = *r.Description
	}
	// The address comes from an external subnet (the test's choice first).
	var fixed []fixedIP
	if r.FloatingIPAddress != "" || r.SubnetID != "" {
		fixed = []fixedIP{{subnetID: r.SubnetID, ip: r.FloatingIPAddress}}
	}
	if fixed == nil && c.opts.Allocate != nil {
		for _, sid := range n.subnets {
			s := c.subnets[sid]
			if ip, ok := c.opts.Allocate(Allocation{Kind: "floating", NetworkID: n.id, SubnetID: s.id, CIDR: s.prefix.String(), Description: f.description}); ok {
				fixed = []fixedIP{{subnetID: s.id, ip: ip}}
				break
			}
		}
	}
	p, status, msg := c.newPort("", n, "", fixed, []string{}, nil)
	if msg != "" {
		typ := "IpAddressGenerationFailure"
		if status == http.StatusConflict && !strings.HasPrefix(msg, "No more") {
			typ = "IpAddressAlreadyAllocated"
		} else if status == http.StatusBadRequest {
			typ = "InvalidInput"
		}
		x.neutronFail(status, typ, msg)
		return
	}
	p.deviceID, p.deviceOwner, p.status = f.id, "network:floatingip", "N/A"
	f.address = p.fixedIPs[0].ip
	if r.PortID != nil && *r.PortID != "" {
		if !c.associate(x, f, *r.PortID, r.FixedIPAddress) {
			delete(c.ports, p.id)
			return
		}
	}
	c.fips[f.id] = f
	x.json(http.StatusCreated, map[string]any{"floatingip": c.fipBody(f)})
}

// associate binds a floating IP to a port, if a router links the port's subnet
// to the floating IP's network, as Neutron requires.
func (c *Cloud) associate(x *call, f *floatingIP, portID, fixedIPAddr string) bool {
	p := c.ports[portID]
	if p == nil || p.projectID != x.project() {
		x.neutronFail(http.StatusNotFound, "PortNotFound", fmt.Sprintf("Port %s could not be found.", portID))
		return false
	}
	var fixed *fixedIP
	for i, ip := range p.fixedIPs {
		if !strings.Contains(ip.ip, ":") && (fixedIPAddr == "" || fixedIPAddr == ip.ip) {
			fixed = &p.fixedIPs[i]
			break
		}
	}
	if fixed == nil {
		if fixedIPAddr != "" {
			x.neutronFail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Bad floatingip request: Port %s does not have fixed ip %s.", portID, fixedIPAddr))
		} else {
			x.neutronFail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Bad floatingip request: Port %s does not have any IPv4 addresses.", portID))
		}
		return false
	}
	routerID := ""
	for _, r := range c.routers {
		if r.gwNetworkID != f.networkID {
			continue
		}
		for _, ip := range c.routerInterfaces(r.id) {
			if slices.ContainsFunc(ip.fixedIPs, func(g fixedIP) bool { return g.subnetID == fixed.subnetID }) {
				routerID = r.id
			}
		}
	}
	if routerID == "" {
		x.neutronFail(http.StatusNotFound, "ExternalGatewayForFloatingIPNotFound", fmt.Sprintf("External network %s is not reachable from subnet %s.  Therefore, cannot associate Port %s with a Floating IP.", f.networkID, fixed.subnetID, portID))
		return false
	}
	for _, o := range c.fips {
		if o.id != f.id && o.portID == portID && o.fixedIP == fixed.ip && o.networkID == f.networkID {
			x.neutronFail(http.StatusConflict, "FloatingIPPortAlreadyAssociated", fmt.Sprintf("Cannot associate floating IP %s (%s) with port %s using fixed IP %s, as that fixed IP already has a floating IP on external network %s.", f.address, f.id, portID, fixed.ip, f.networkID))
			return false
		}
	}
	f.portID, f.fixedIP, f.routerID = portID, fixed.ip, routerID
	return true
}

func (c *Cloud) updateFIP(x *call, id string) {
	f := c.visibleFIP(x, id)
	if f == nil {
		return
	}
	var raw struct {
		FloatingIP map[string]any `json:"floatingip"`
	}
	if !x.decode(&raw) {
		return
	}
	if raw.FloatingIP == nil {
		x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", "Resource body required")
		return
	}
	for k, v := range raw.FloatingIP {
		switch k {
		case "port_id":
			if v == nil || v == "" {
				f.portID, f.fixedIP, f.routerID = "", "", ""
				continue
			}
			fixed, _ := raw.FloatingIP["fixed_ip_address"].(string)
			if !c.associate(x, f, fmt.Sprint(v), fixed) {
				return
			}
		case "description":
			f.description, _ = v.(string)
		case "fixed_ip_address", "qos_policy_id":
		default:
			x.neutronFail(http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Cannot update read-only attribute %s", k))
			return
		}
	}
	f.updated, f.revision = time.Now(), f.revision+1
	x.json(http.StatusOK, map[string]any{"floatingip": c.fipBody(f)})
}

func (c *Cloud) deleteFIP(x *call, id string) {
	f := c.visibleFIP(x, id)
	if f == nil {
		return
	}
	for _, p := range c.ports {
		if p.deviceID == f.id && p.deviceOwner == "network:floatingip" {
			delete(c.ports, p.id)
		}
	}
	delete(c.fips, id)
	x.empty(http.StatusNoContent)
}

// count counts a project's Neutron resources for its quota.
func (c *Cloud) count(projectID, kind string) int {
	n := 0
	switch kind {
	case "network":
		for _, v := range c.networks {
			if v.projectID == projectID {
				n++
			}
		}
	case "port":
		for _, v := range c.ports {
			if v.projectID == projectID {
				n++
			}
		}
	case "security_group":
		for _, v := range c.secgroups {
			if v.projectID == projectID {
				n++
			}
		}
	case "router":
		for _, v := range c.routers {
			if v.projectID == projectID {
				n++
			}
		}
	case "floatingip":
		for _, v := range c.fips {
			if v.projectID == projectID {
				n++
			}
		}
	}
	return n
}

package ossim

import (
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Nova (compute v2.1): servers with networks, ports, key pairs, security groups,
// user_data, metadata and availability zone; flavors; key pairs; power actions
// (os-stop, os-start, reboot); resize and confirm; volume attachments.

const novaMaxMicroversion = "2.96"

type flavor struct {
	id, name             string
	vcpus, ramMB, diskGB int
	ephemeralGB, swapMB  int
	public               bool
	extraSpecs           map[string]string
	description          string
	rxtx                 float64
	disabled             bool
}

type keypair struct {
	id                                 int
	name, publicKey, fingerprint, user string
	created                            time.Time
}

type server struct {
	id, name, projectID, userID string
	status                      string // BUILD, ACTIVE, SHUTOFF, REBOOT, HARD_REBOOT, RESIZE, VERIFY_RESIZE, ERROR
	vmState, taskState          string
	powerState                  int
	flavorID, oldFlavorID       string
	preResizeStatus             string
	imageID                     string
	keyName                     string
	az                          string
	metadata                    map[string]string
	userData                    string
	secGroups                   []string // names requested at boot (for the ports Nova makes)
	ports                       []string // port ids, in boot order
	novaPorts                   map[string]bool
	attachments                 []*volumeAttachment
	fault                       map[string]any
	created, updated, launched  time.Time
	hostID                      string
	tags                        []string
	deleting                    bool
	// reboots counts completed reboots (soft and hard).
	reboots int
	// actions are the server actions Nova accepted, in order.
	actions []string
}

type volumeAttachment struct {
	volumeID, device string
	detaching        bool
}

// novaMicroversion is the microversion a request asks for ("2.1" by default).
func novaMicroversion(r *http.Request) string {
	if v := r.Header.Get("X-OpenStack-Nova-API-Version"); v != "" {
		return v
	}
	if v := r.Header.Get("OpenStack-API-Version"); strings.HasPrefix(v, "compute ") {
		return strings.TrimPrefix(v, "compute ")
	}
	return "2.1"
}

// atLeast compares microversions "2.47" >= "2.26".
func atLeast(have, want string) bool {
	hMaj, hMin := splitVersion(have)
	wMaj, wMin := splitVersion(want)
	return hMaj > wMaj || (hMaj == wMaj && hMin >= wMin)
}

func splitVersion(v string) (int, int) {
	a, b, _ := strings.Cut(v, ".")
	maj, _ := strconv.Atoi(a)
	min, _ := strconv.Atoi(b)
	return maj, min
}

func (c *Cloud) serveCompute(x *call) {
	mv := novaMicroversion(x.r)
	if mv == "latest" {
		mv = novaMaxMicroversion
	}
	if !atLeast(novaMaxMicroversion, mv) || !atLeast(mv, "2.1") {
		x.fail(http.StatusNotAcceptable, fmt.Sprintf("Version %s is not supported by the API. Minimum is 2.1 and maximum is %s.", mv, novaMaxMicroversion))
		return
	}
	x.w.Header().Set("OpenStack-API-Version", "compute "+mv)
	x.w.Header().Set("X-OpenStack-Nova-API-Version", mv)
	x.w.Header().Set("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version")

	if x.path == "/" || x.path == "" {
		x.json(http.StatusOK, map[string]any{"versions": []any{c.novaVersion()}})
		return
	}
	if x.path == "/v2.1" || x.path == "/v2.1/" {
		x.json(http.StatusOK, map[string]any{"version": c.novaVersion()})
		return
	}
	if v, ok := x.match(http.MethodGet, "/v2.1/flavors"); ok {
		c.listFlavors(x, false, v)
	} else if v, ok := x.match(http.MethodGet, "/v2.1/flavors/detail"); ok {
		c.listFlavors(x, true, v)
	} else if v, ok := x.match(http.MethodGet, "/v2.1/flavors/*"); ok {
		f := c.flavors[v[0]]
		if f == nil {
			x.fail(http.StatusNotFound, fmt.Sprintf("Flavor %s could not be found.", v[0]))
			return
		}
		x.json(http.StatusOK, map[string]any{"flavor": c.flavorBody(f, true, mv)})
	} else if v, ok := x.match(http.MethodGet, "/v2.1/flavors/*/os-extra_specs"); ok {
		f := c.flavors[v[0]]
		if f == nil {
			x.fail(http.StatusNotFound, fmt.Sprintf("Flavor %s could not be found.", v[0]))
			return
		}
		x.json(http.StatusOK, map[string]any{"extra_specs": f.extraSpecs})
	} else if _, ok := x.match(http.MethodGet, "/v2.1/os-availability-zone"); ok {
		var zones []any
		for _, z := range c.azs {
			zones = append(zones, map[string]any{"zoneName": z, "zoneState": map[string]any{"available": true}, "hosts": nil})
		}
		x.json(http.StatusOK, map[string]any{"availabilityZoneInfo": zones})
	} else if _, ok := x.match(http.MethodPost, "/v2.1/os-keypairs"); ok {
		c.createKeypair(x, mv)
	} else if _, ok := x.match(http.MethodGet, "/v2.1/os-keypairs"); ok {
		var list []any
		for _, k := range c.sortedKeypairs(x.token.userID) {
			list = append(list, map[string]any{"keypair": c.keypairBody(k, false, mv)})
		}
		x.json(http.StatusOK, map[string]any{"keypairs": nonNil(list)})
	} else if v, ok := x.match(http.MethodGet, "/v2.1/os-keypairs/*"); ok {
		k := c.keypairs[x.token.userID+"/"+v[0]]
		if k == nil {
			x.fail(http.StatusNotFound, fmt.Sprintf("Keypair %s not found for user %s", v[0], x.token.userID))
			return
		}
		x.json(http.StatusOK, map[string]any{"keypair": c.keypairBody(k, true, mv)})
	} else if v, ok := x.match(http.MethodDelete, "/v2.1/os-keypairs/*"); ok {
		key := x.token.userID + "/" + v[0]
		if c.keypairs[key] == nil {
			x.fail(http.StatusNotFound, fmt.Sprintf("Keypair %s not found for user %s", v[0], x.token.userID))
			return
		}
		delete(c.keypairs, key)
		x.empty(http.StatusAccepted)
	} else if _, ok := x.match(http.MethodPost, "/v2.1/servers"); ok {
		c.createServer(x, mv)
	} else if _, ok := x.match(http.MethodGet, "/v2.1/servers"); ok {
		c.listServers(x, false, mv)
	} else if _, ok := x.match(http.MethodGet, "/v2.1/servers/detail"); ok {
		c.listServers(x, true, mv)
	} else if v, ok := x.match("", "/v2.1/servers/*"); ok {
		s := c.visibleServer(x, v[0])
		if s == nil {
			return
		}
		switch x.r.Method {
		case http.MethodGet:
			x.json(http.StatusOK, map[string]any{"server": c.serverBody(s, mv)})
		case http.MethodPut:
			c.updateServer(x, s, mv)
		case http.MethodDelete:
			c.deleteServer(s)
			x.empty(http.StatusNoContent)
		default:
			x.fail(http.StatusMethodNotAllowed, "The method specified is not allowed for this resource.")
		}
	} else if v, ok := x.match(http.MethodPost, "/v2.1/servers/*/action"); ok {
		if s := c.visibleServer(x, v[0]); s != nil {
			c.serverAction(x, s, mv)
		}
	} else if v, ok := x.match("", "/v2.1/servers/*/metadata"); ok {
		if s := c.visibleServer(x, v[0]); s != nil {
			c.serverMetadata(x, s, "")
		}
	} else if v, ok := x.match("", "/v2.1/servers/*/metadata/*"); ok {
		if s := c.visibleServer(x, v[0]); s != nil {
			c.serverMetadata(x, s, v[1])
		}
	} else if v, ok := x.match("", "/v2.1/servers/*/tags"); ok {
		if s := c.visibleServer(x, v[0]); s != nil {
			c.serverTags(x, s, mv)
		}
	} else if v, ok := x.match(http.MethodGet, "/v2.1/servers/*/os-interface"); ok {
		if s := c.visibleServer(x, v[0]); s != nil {
			var list []any
			for _, pid := range s.ports {
				if p := c.ports[pid]; p != nil {
					list = append(list, c.interfaceBody(p))
				}
			}
			x.json(http.StatusOK, map[string]any{"interfaceAttachments": nonNil(list)})
		}
	} else if v, ok := x.match(http.MethodGet, "/v2.1/servers/*/os-volume_attachments"); ok {
		if s := c.visibleServer(x, v[0]); s != nil {
			var list []any
			for _, a := range s.attachments {
				list = append(list, attachmentBody(s, a))
			}
			x.json(http.StatusOK, map[string]any{"volumeAttachments": nonNil(list)})
		}
	} else if v, ok := x.match(http.MethodPost, "/v2.1/servers/*/os-volume_attachments"); ok {
		if s := c.visibleServer(x, v[0]); s != nil {
			c.attachVolume(x, s)
		}
	} else if v, ok := x.match("", "/v2.1/servers/*/os-volume_attachments/*"); ok {
		s := c.visibleServer(x, v[0])
		if s == nil {
			return
		}
		a := s.attachment(v[1])
		if a == nil {
			x.fail(http.StatusNotFound, fmt.Sprintf("Volume %s is not attached to the instance %s", v[1], s.id))
			return
		}
		switch x.r.Method {
		case http.MethodGet:
			x.json(http.StatusOK, map[string]any{"volumeAttachment": attachmentBody(s, a)})
		case http.MethodDelete:
			c.detachVolume(x, s, a)
		default:
			x.fail(http.StatusMethodNotAllowed, "The method specified is not allowed for this resource.")
		}
	} else {
		x.notImplemented()
	}
}

func (c *Cloud) novaVersion() map[string]any {
	return map[string]any{"id": "v2.1", "status": "CURRENT", "version": novaMaxMicroversion, "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
		"links":       []any{map[string]any{"rel": "self", "href": c.URL + "/compute/v2.1/"}},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}}}
}

// --- flavors ---

func (c *Cloud) listFlavors(x *call, detail bool, _ []string) {
	var list []*flavor
	for _, f := range c.flavors {
		if f.public {
			list = append(list, f)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	if name := x.r.URL.Query().Get("name"); name != "" {
		list = slices.DeleteFunc(list, func(f *flavor) bool { return f.name != name })
	}
	var out []any
	mv := novaMicroversion(x.r)
	for _, f := range list {
		out = append(out, c.flavorBody(f, detail, mv))
	}
	x.json(http.StatusOK, map[string]any{"flavors": nonNil(out)})
}

func (c *Cloud) flavorBody(f *flavor, detail bool, mv string) map[string]any {
	links := []any{map[string]any{"rel": "self", "href": c.URL + "/compute/v2.1/flavors/" + f.id},
		map[string]any{"rel": "bookmark", "href": c.URL + "/compute/flavors/" + f.id}}
	b := map[string]any{"id": f.id, "name": f.name, "links": links}
	if atLeast(mv, "2.55") {
		b["description"] = nilIfEmpty(f.description)
	}
	if !detail {
		return b
	}
	swap := any("")
	if f.swapMB > 0 {
		swap = f.swapMB
	}
	b["vcpus"], b["ram"], b["disk"], b["swap"] = f.vcpus, f.ramMB, f.diskGB, swap
	b["OS-FLV-EXT-DATA:ephemeral"] = f.ephemeralGB
	b["OS-FLV-DISABLED:disabled"] = f.disabled
	b["os-flavor-access:is_public"] = f.public
	b["rxtx_factor"] = f.rxtx
	if atLeast(mv, "2.61") {
		b["extra_specs"] = f.extraSpecs
	}
	return b
}

// --- key pairs ---

var keypairNameRE = regexp.MustCompile(`^[a-zA-Z0-9 _-]+$`)

func (c *Cloud) createKeypair(x *call, mv string) {
	var req struct {
		Keypair *struct {
			Name      string `json:"name"`
			PublicKey string `json:"public_key"`
			Type      string `json:"type"`
			UserID    string `json:"user_id"`
		} `json:"keypair"`
	}
	if !x.decode(&req) {
		return
	}
	if req.Keypair == nil {
		x.fail(http.StatusBadRequest, "Invalid input for field/attribute keypair. Value: None. None is not of type 'object'")
		return
	}
	k := req.Keypair
	if k.Name == "" || len(k.Name) > 255 {
		x.fail(http.StatusBadRequest, "Invalid input for field/attribute name. Value: "+k.Name+". '"+k.Name+"' is too short")
		return
	}
	if !atLeast(mv, "2.92") && !keypairNameRE.MatchString(k.Name) {
		x.fail(http.StatusBadRequest, "Keypair data is invalid: Keypair name contains unsafe characters")
		return
	}
	if k.PublicKey == "" {
		// Nova would generate a key pair; our modules always bring their own key.
		x.notImplemented()
		return
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.PublicKey))
	if err != nil {
		x.fail(http.StatusBadRequest, "Keypair data is invalid: failed to generate fingerprint")
		return
	}
	key := x.token.userID + "/" + k.Name
	if c.keypairs[key] != nil {
		x.fail(http.StatusConflict, fmt.Sprintf("Key pair '%s' already exists.", k.Name))
		return
	}
	if n := len(c.sortedKeypairs(x.token.userID)); n >= c.quota(x.project()).KeyPairs {
		x.fail(http.StatusForbidden, "Quota exceeded, too many key pairs.")
		return
	}
	sum := md5.Sum(pub.Marshal())
	var fp []string
	for _, b := range sum {
		fp = append(fp, fmt.Sprintf("%02x", b))
	}
	c.seq++
	kp := &keypair{id: c.seq, name: k.Name, publicKey: k.PublicKey, fingerprint: strings.Join(fp, ":"), user: x.token.userID, created: time.Now()}
	c.keypairs[key] = kp
	x.json(http.StatusOK, map[string]any{"keypair": c.keypairBody(kp, false, mv)})
}

func (c *Cloud) sortedKeypairs(userID string) []*keypair {
	var out []*keypair
	for _, k := range c.keypairs {
		if k.user == userID {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (c *Cloud) keypairBody(k *keypair, full bool, mv string) map[string]any {
	b := map[string]any{"name": k.name, "public_key": k.publicKey, "fingerprint": k.fingerprint}
	if atLeast(mv, "2.2") {
		b["type"] = "ssh"
	}
	if full {
		b["user_id"], b["id"], b["deleted"] = k.user, k.id, false
		b["created_at"], b["updated_at"], b["deleted_at"] = stampMicro(k.created), nil, nil
	} else {
		b["user_id"] = k.user
	}
	return b
}

// --- servers ---

// visibleServer finds a server of the caller's project, or answers 404.
func (c *Cloud) visibleServer(x *call, id string) *server {
	s := c.servers[id]
	if s == nil || s.projectID != x.project() {
		x.fail(http.StatusNotFound, fmt.Sprintf("Instance %s could not be found.", id))
		return nil
	}
	return s
}

type serverNetwork struct {
	UUID    string `json:"uuid"`
	Port    string `json:"port"`
	FixedIP string `json:"fixed_ip"`
	Tag     string `json:"tag"`
}

type createServerRequest struct {
	Server *struct {
		Name             string                  `json:"name"`
		ImageRef         string                  `json:"imageRef"`
		FlavorRef        string                  `json:"flavorRef"`
		KeyName          string                  `json:"key_name"`
		AvailabilityZone string                  `json:"availability_zone"`
		SecurityGroups   []struct{ Name string } `json:"security_groups"`
		Networks         any                     `json:"networks"`
		Metadata         map[string]string       `json:"metadata"`
		UserData         *string                 `json:"user_data"`
		ConfigDrive      any                     `json:"config_drive"`
		AdminPass        string                  `json:"adminPass"`
		BlockDevices     []any                   `json:"block_device_mapping_v2"`
		Personality      []any                   `json:"personality"`
		Tags             []string                `json:"tags"`
		HypervisorHost   string                  `json:"hypervisor_hostname"`
		MinCount         any                     `json:"min_count"`
	} `json:"server"`
}

func (c *Cloud) createServer(x *call, mv string) {
	var req createServerRequest
	if !x.decode(&req) {
		return
	}
	r := req.Server
	if r == nil {
		x.fail(http.StatusBadRequest, "Invalid input for field/attribute server. Value: None. None is not of type 'object'")
		return
	}
	if r.Name == "" || len(r.Name) > 255 {
		x.fail(http.StatusBadRequest, fmt.Sprintf("Invalid input for field/attribute name. Value: %s. '%s' is too short", r.Name, r.Name))
		return
	}
	if len(r.BlockDevices) > 0 {
		x.notImplemented() // boot from volume is not simulated
		return
	}
	if r.UserData != nil {
		if len(*r.UserData) > 65535 {
			x.fail(http.StatusBadRequest, "Invalid input for field/attribute user_data. Value: (truncated). is too long")
			return
		}
		if _, err := base64.StdEncoding.DecodeString(*r.UserData); err != nil {
			x.fail(http.StatusBadRequest, "Invalid input for field/attribute user_data. Value: "+*r.UserData+". '"+*r.UserData+"' is not a 'base64'")
			return
		}
	}
	for k, v := range r.Metadata {
		if len(k) > 255 || len(v) > 255 || k == "" {
			x.fail(http.StatusBadRequest, "Invalid input for field/attribute metadata. Value: "+k+". Additional properties are not allowed")
			return
		}
	}
	f := c.flavors[r.FlavorRef]
	if f == nil {
		x.fail(http.StatusBadRequest, "Invalid flavorRef provided.")
		return
	}
	img := c.images[r.ImageRef]
	if img == nil || !img.visibleTo(x.project()) {
		x.fail(http.StatusBadRequest, fmt.Sprintf("Image %s could not be found.", r.ImageRef))
		return
	}
	if img.status != "active" {
		x.fail(http.StatusBadRequest, fmt.Sprintf("Image %s is not active.", img.id))
		return
	}
	if img.minDiskGB > f.diskGB {
		x.fail(http.StatusBadRequest, fmt.Sprintf("Flavor's disk is too small for requested image. Flavor disk is %d bytes, image is %d bytes.", f.diskGB<<30, img.minDiskGB<<30))
		return
	}
	if img.minRAMMB > f.ramMB {
		x.fail(http.StatusBadRequest, "Flavor's memory is too small for requested image.")
		return
	}
	if r.KeyName != "" && c.keypairs[x.token.userID+"/"+r.KeyName] == nil {
		x.fail(http.StatusBadRequest, "Invalid key_name provided.")
		return
	}
	az := r.AvailabilityZone
	if az == "" {
		az = AvailabilityZone
	} else if zone, _, _ := strings.Cut(az, ":"); !slices.Contains(c.azs, zone) {
		x.fail(http.StatusBadRequest, "The requested availability zone is not available")
		return
	} else {
		az = zone
	}
	var sgNames []string
	for _, sg := range r.SecurityGroups {
		if c.secgroupByNameOrID(x.project(), sg.Name) == nil {
			x.fail(http.StatusBadRequest, fmt.Sprintf("Security group %s not found for project %s.", sg.Name, x.project()))
			return
		}
		sgNames = append(sgNames, sg.Name)
	}
	// Networks: a list of {uuid|port, fixed_ip}, "auto" or "none" (2.37+).
	var nets []serverNetwork
	switch v := r.Networks.(type) {
	case nil:
		if atLeast(mv, "2.37") {
			x.fail(http.StatusBadRequest, "Invalid input for field/attribute networks. Value: None. 'networks' is a required property")
			return
		}
		candidates := c.bootableNetworks(x.project())
		if len(candidates) > 1 {
			x.fail(http.StatusConflict, "Multiple possible networks found, use a Network ID to be more specific.")
			return
		}
		for _, n := range candidates {
			nets = append(nets, serverNetwork{UUID: n.id})
		}
	case string:
		if !atLeast(mv, "2.37") || (v != "auto" && v != "none") {
			x.fail(http.StatusBadRequest, "Invalid input for field/attribute networks. Value: "+v+". '"+v+"' is not of type 'array'")
			return
		}
		if v == "auto" {
			for _, n := range c.bootableNetworks(x.project()) {
				nets = append(nets, serverNetwork{UUID: n.id})
				break
			}
		}
	case []any:
		for _, raw := range v {
			m, _ := raw.(map[string]any)
			n := serverNetwork{}
			n.UUID, _ = m["uuid"].(string)
			n.Port, _ = m["port"].(string)
			n.FixedIP, _ = m["fixed_ip"].(string)
			nets = append(nets, n)
		}
	default:
		x.fail(http.StatusBadRequest, "Invalid input for field/attribute networks.")
		return
	}
	seenPorts := map[string]bool{}
	for _, n := range nets {
		switch {
		case n.Port != "":
			p := c.ports[n.Port]
			if p == nil || (p.projectID != x.project() && !c.networks[p.networkID].shared) {
				x.fail(http.StatusBadRequest, fmt.Sprintf("Port %s could not be found.", n.Port))
				return
			}
			if p.deviceID != "" || seenPorts[p.id] {
				x.fail(http.StatusConflict, fmt.Sprintf("Port %s is still in use.", p.id))
				return
			}
			seenPorts[p.id] = true
		case n.UUID != "":
			nw := c.networks[n.UUID]
			if nw == nil || !nw.visibleTo(x.project()) {
				x.fail(http.StatusBadRequest, fmt.Sprintf("Network %s could not be found.", n.UUID))
				return
			}
			if len(nw.subnets) == 0 {
				x.fail(http.StatusBadRequest, fmt.Sprintf("Network %s requires a subnet in order to boot instances on.", n.UUID))
				return
			}
		default:
			x.fail(http.StatusBadRequest, "Bad networks format: network uuid is not in proper format ()")
			return
		}
	}
	// Quota: instances, cores, RAM.
	q := c.quota(x.project())
	used := c.computeUsage(x.project())
	for _, check := range []struct {
		name            string
		req, used, have int
	}{{"instances", 1, used.instances, q.Instances}, {"cores", f.vcpus, used.cores, q.Cores}, {"ram", f.ramMB, used.ram, q.RAMMB}} {
		if check.used+check.req > check.have {
			x.fail(http.StatusForbidden, fmt.Sprintf("Quota exceeded for %s: Requested %d, but already used %d of %d %s", check.name, check.req, check.used, check.have, check.name))
			return
		}
	}

	now := time.Now()
	s := &server{id: newID(), name: r.Name, projectID: x.project(), userID: x.token.userID, status: "BUILD", vmState: "building",
		taskState: "scheduling", flavorID: f.id, imageID: img.id, keyName: r.KeyName, az: az, metadata: map[string]string{},
		secGroups: sgNames, novaPorts: map[string]bool{}, created: now, updated: now, hostID: newHex()[:28], tags: r.Tags}
	for k, v := range r.Metadata {
		s.metadata[k] = v
	}
	if r.UserData != nil {
		s.userData = *r.UserData
	}
	c.servers[s.id] = s
	// Networking is allocated while the server builds; a failure puts it in ERROR.
	var netErr string
	for _, n := range nets {
		if n.Port != "" {
			p := c.ports[n.Port]
			p.deviceID, p.deviceOwner, p.hostID = s.id, "compute:"+az, "compute-1"
			s.ports = append(s.ports, p.id)
			continue
		}
		var sgIDs []string
		for _, name := range sgNames {
			sgIDs = append(sgIDs, c.secgroupByNameOrID(s.projectID, name).id)
		}
		if len(sgIDs) == 0 {
			sgIDs = []string{c.defaultSecgroup(s.projectID).id}
		}
		var fixed []fixedIP
		if n.FixedIP != "" {
			fixed = []fixedIP{{ip: n.FixedIP}}
		}
		p, _, msg := c.newPort(s.projectID, c.networks[n.UUID], "", fixed, sgIDs, s)
		if msg != "" {
			netErr = msg
			break
		}
		p.deviceID, p.deviceOwner, p.hostID = s.id, "compute:"+az, "compute-1"
		s.ports = append(s.ports, p.id)
		s.novaPorts[p.id] = true
	}
	build := c.opts.BuildTime
	c.later(build/2, func() {
		if c.servers[s.id] == s && s.status == "BUILD" && s.taskState == "scheduling" {
			s.taskState = "spawning" // scheduled, networking set up
		}
	})
	c.later(build, func() {
		if c.servers[s.id] != s || s.deleting || s.status != "BUILD" {
			return
		}
		s.updated = time.Now()
		message := netErr
		if message != "" {
			message = fmt.Sprintf("Build of instance %s aborted: Failed to allocate the network(s), not rescheduling. (%s)", s.id, netErr)
		}
		for _, fail := range c.failures {
			if strings.Contains(s.name, fail.match) {
				message = fail.message
			}
		}
		if message != "" {
			s.status, s.vmState, s.taskState, s.powerState = "ERROR", "error", "", 0
			s.fault = map[string]any{"code": 500, "created": stamp(time.Now()), "message": message}
			c.releaseServerPorts(s)
			return
		}
		if c.opts.Boot != nil {
			if err := c.opts.Boot(c.serverInfo(s)); err != nil {
				s.status, s.vmState, s.taskState, s.powerState = "ERROR", "error", "", 0
				s.fault = map[string]any{"code": 500, "created": stamp(time.Now()), "message": "boot failed: " + err.Error()}
				c.releaseServerPorts(s)
				return
			}
		}
		s.status, s.vmState, s.taskState, s.powerState = "ACTIVE", "active", "", 1
		s.launched = time.Now()
		for _, pid := range s.ports {
			if p := c.ports[pid]; p != nil {
				p.status = "ACTIVE"
			}
		}
	})
	body := map[string]any{"id": s.id, "links": c.serverLinks(s.id), "OS-DCF:diskConfig": "MANUAL",
		"security_groups": secgroupRefs(sgNames), "adminPass": "SimulatedAdminPass1"}
	if len(sgNames) == 0 {
		body["security_groups"] = []any{map[string]any{"name": "default"}}
	}
	x.json(http.StatusAccepted, map[string]any{"server": body})
}

func secgroupRefs(names []string) []any {
	var out []any
	for _, n := range names {
		out = append(out, map[string]any{"name": n})
	}
	return nonNil(out)
}

// bootableNetworks are the networks a server with no networks would use.
func (c *Cloud) bootableNetworks(projectID string) []*network {
	var out []*network
	for _, n := range c.sortedNetworks() {
		if !n.external && n.visibleTo(projectID) && len(n.subnets) > 0 {
			out = append(out, n)
		}
	}
	return out
}

type usage struct{ instances, cores, ram int }

func (c *Cloud) computeUsage(projectID string) usage {
	var u usage
	for _, s := range c.servers {
		if s.projectID != projectID {
			continue
		}
		u.instances++
		if f := c.flavors[s.flavorID]; f != nil {
			u.cores += f.vcpus
			u.ram += f.ramMB
		}
	}
	return u
}

// releaseServerPorts deletes the ports Nova made for a server and unbinds the
// ones it was given, as Nova does when a server is deleted or fails to build.
func (c *Cloud) releaseServerPorts(s *server) {
	for _, pid := range s.ports {
		p := c.ports[pid]
		if p == nil {
			continue
		}
		if s.novaPorts[pid] {
			c.removePort(p)
			continue
		}
		p.deviceID, p.deviceOwner, p.hostID, p.status = "", "", "", "DOWN"
	}
	s.ports, s.novaPorts = nil, map[string]bool{}
}

func (c *Cloud) listServers(x *call, detail bool, mv string) {
	q := x.r.URL.Query()
	var list []*server
	for _, s := range c.servers {
		if s.projectID != x.project() {
			continue
		}
		if name := q.Get("name"); name != "" {
			if re, err := regexp.Compile(name); err != nil || !re.MatchString(s.name) {
				continue
			}
		}
		if st := q.Get("status"); st != "" && !strings.EqualFold(st, s.status) {
			continue
		}
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].created.After(list[j].created) })
	var out []any
	for _, s := range list {
		if detail {
			out = append(out, c.serverBody(s, mv))
		} else {
			out = append(out, map[string]any{"id": s.id, "name": s.name, "links": c.serverLinks(s.id)})
		}
	}
	x.json(http.StatusOK, map[string]any{"servers": nonNil(out)})
}

func (c *Cloud) serverLinks(id string) []any {
	return []any{map[string]any{"rel": "self", "href": c.URL + "/compute/v2.1/servers/" + id},
		map[string]any{"rel": "bookmark", "href": c.URL + "/compute/servers/" + id}}
}

// serverBody is GET /servers/{id} as Nova answers it at microversion mv.
func (c *Cloud) serverBody(s *server, mv string) map[string]any {
	f := c.flavors[s.flavorID]
	var flavorRef map[string]any
	if atLeast(mv, "2.47") {
		flavorRef = map[string]any{"vcpus": f.vcpus, "ram": f.ramMB, "disk": f.diskGB, "ephemeral": f.ephemeralGB,
			"swap": f.swapMB, "original_name": f.name, "extra_specs": f.extraSpecs}
	} else {
		flavorRef = map[string]any{"id": f.id, "links": []any{map[string]any{"rel": "bookmark", "href": c.URL + "/compute/flavors/" + f.id}}}
	}
	var task any
	if s.taskState != "" {
		task = s.taskState
	}
	var launched any
	if !s.launched.IsZero() {
		launched = stampMicro(s.launched)
	}
	var vols []any
	for _, a := range s.attachments {
		vols = append(vols, map[string]any{"id": a.volumeID, "delete_on_termination": false})
	}
	sgs := c.serverSecgroupNames(s)
	b := map[string]any{
		"id": s.id, "name": s.name, "status": s.status, "tenant_id": s.projectID, "user_id": s.userID,
		"metadata": s.metadata, "hostId": s.hostID, "created": stamp(s.created), "updated": stamp(s.updated),
		"image":  map[string]any{"id": s.imageID, "links": []any{map[string]any{"rel": "bookmark", "href": c.URL + "/compute/images/" + s.imageID}}},
		"flavor": flavorRef, "addresses": c.serverAddresses(s), "accessIPv4": "", "accessIPv6": "",
		"links": c.serverLinks(s.id), "key_name": nilIfEmpty(s.keyName), "progress": 0, "config_drive": "",
		"OS-DCF:diskConfig": "MANUAL", "OS-EXT-AZ:availability_zone": s.az,
		"OS-EXT-STS:power_state": s.powerState, "OS-EXT-STS:task_state": task, "OS-EXT-STS:vm_state": s.vmState,
		"OS-SRV-USG:launched_at": launched, "OS-SRV-USG:terminated_at": nil,
		"os-extended-volumes:volumes_attached": nonNil(vols),
	}
	if len(sgs) > 0 {
		b["security_groups"] = secgroupRefs(sgs)
	}
	if s.fault != nil {
		b["fault"] = s.fault
	}
	if atLeast(mv, "2.9") {
		b["locked"] = false
	}
	if atLeast(mv, "2.26") {
		b["tags"] = nonNilStrings(s.tags)
	}
	if atLeast(mv, "2.19") {
		b["description"] = nil
	}
	return b
}

// serverSecgroupNames are the security groups of the server's ports, as Nova
// reports them.
func (c *Cloud) serverSecgroupNames(s *server) []string {
	seen := map[string]bool{}
	var out []string
	for _, pid := range s.ports {
		p := c.ports[pid]
		if p == nil {
			continue
		}
		for _, sgID := range p.secGroups {
			if sg := c.secgroups[sgID]; sg != nil && !seen[sg.name] {
				seen[sg.name] = true
				out = append(out, sg.name)
			}
		}
	}
	if len(s.ports) == 0 {
		out = append(out, s.secGroups...)
	}
	return out
}

// serverAddresses groups the server's fixed and floating addresses by network
// name; Nova knows them once the server is scheduled and its networking set up.
func (c *Cloud) serverAddresses(s *server) map[string]any {
	out := map[string]any{}
	if s.status == "BUILD" && s.taskState == "scheduling" {
		return out
	}
	for _, pid := range s.ports {
		p := c.ports[pid]
		if p == nil {
			continue
		}
		n := c.networks[p.networkID]
		list, _ := out[n.name].([]any)
		for _, f := range p.fixedIPs {
			version := 4
			if strings.Contains(f.ip, ":") {
				version = 6
			}
			list = append(list, map[string]any{"version": version, "addr": f.ip, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": p.mac})
		}
		for _, fip := range c.sortedFIPs() {
			if fip.portID == p.id {
				list = append(list, map[string]any{"version": 4, "addr": fip.address, "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": p.mac})
			}
		}
		out[n.name] = list
	}
	return out
}

func (c *Cloud) updateServer(x *call, s *server, mv string) {
	var req struct {
		Server map[string]any `json:"server"`
	}
	if !x.decode(&req) {
		return
	}
	for k, v := range req.Server {
		switch k {
		case "name":
			name, _ := v.(string)
			if name == "" || len(name) > 255 {
				x.fail(http.StatusBadRequest, "Invalid input for field/attribute name.")
				return
			}
			s.name = name
		case "accessIPv4", "accessIPv6", "description", "hostname":
		default:
			x.fail(http.StatusBadRequest, fmt.Sprintf("Invalid input for field/attribute server. Additional properties are not allowed ('%s' was unexpected)", k))
			return
		}
	}
	s.updated = time.Now()
	x.json(http.StatusOK, map[string]any{"server": c.serverBody(s, mv)})
}

// deleteServer starts a delete: a server that never reached a host goes at
// once; others keep their status (task_state deleting) for DeleteTime.
func (c *Cloud) deleteServer(s *server) {
	if s.deleting {
		return
	}
	finish := func() {
		if c.servers[s.id] != s {
			return
		}
		for _, a := range s.attachments {
			if v := c.volumes[a.volumeID]; v != nil {
				v.detach(s.id)
			}
		}
		c.releaseServerPorts(s)
		delete(c.servers, s.id)
	}
	if s.status == "ERROR" || s.status == "BUILD" {
		finish()
		return
	}
	s.deleting, s.taskState = true, "deleting"
	c.later(c.opts.DeleteTime, finish)
}

// busy reports whether a task runs on the server (Nova refuses most actions then).
func (s *server) busy() bool { return s.taskState != "" }

func (c *Cloud) conflict(x *call, s *server, action string) {
	state := s.vmState
	if s.taskState != "" {
		x.fail(http.StatusConflict, fmt.Sprintf("Cannot '%s' instance %s while it is in task_state %s", action, s.id, s.taskState))
		return
	}
	x.fail(http.StatusConflict, fmt.Sprintf("Cannot '%s' instance %s while it is in vm_state %s", action, s.id, state))
}

// novaActions are Nova's server actions the simulator knows but does not simulate.
var novaActions = []string{"pause", "unpause", "suspend", "resume", "lock", "unlock", "shelve", "unshelve", "shelveOffload",
	"createImage", "createBackup", "rebuild", "rescue", "unrescue", "migrate", "os-migrateLive", "evacuate", "changePassword",
	"forceDelete", "restore", "os-getConsoleOutput", "os-getVNCConsole", "addFloatingIp", "removeFloatingIp",
	"os-resetState", "injectNetworkInfo", "resetNetwork", "trigger_crash_dump", "os-getSerialConsole", "os-getSPICEConsole"}

func (c *Cloud) serverAction(x *call, s *server, mv string) {
	var req map[string]any
	if !x.decode(&req) {
		return
	}
	if len(req) != 1 {
		x.fail(http.StatusBadRequest, "Malformed request body")
		return
	}
	var action string
	var arg any
	for k, v := range req {
		action, arg = k, v
	}
	if s.deleting {
		c.conflict(x, s, action)
		return
	}
	// Accepted actions (2xx) are recorded for tests.
	defer func() {
		if rec, ok := x.w.(*recorder); ok && rec.status < 300 {
			s.actions = append(s.actions, action)
		}
	}()
	step := c.opts.ActionTime
	switch action {
	case "os-stop":
		if s.busy() || (s.vmState != "active" && s.vmState != "error") {
			c.conflict(x, s, "stop")
			return
		}
		s.taskState = "powering-off"
		c.later(step, func() {
			if c.servers[s.id] == s && s.taskState == "powering-off" {
				s.status, s.vmState, s.taskState, s.powerState, s.updated = "SHUTOFF", "stopped", "", 4, time.Now()
			}
		})
		x.empty(http.StatusAccepted)
	case "os-start":
		if s.busy() || s.vmState != "stopped" {
			c.conflict(x, s, "start")
			return
		}
		s.taskState = "powering-on"
		c.later(step, func() {
			if c.servers[s.id] == s && s.taskState == "powering-on" {
				s.status, s.vmState, s.taskState, s.powerState, s.updated = "ACTIVE", "active", "", 1, time.Now()
			}
		})
		x.empty(http.StatusAccepted)
	case "reboot":
		m, _ := arg.(map[string]any)
		typ, _ := m["type"].(string)
		if typ != "SOFT" && typ != "HARD" {
			x.fail(http.StatusBadRequest, "Invalid input for field/attribute type. Value: "+typ+". '"+typ+"' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']")
			return
		}
		if s.busy() || (s.vmState != "active" && !(typ == "HARD" && (s.vmState == "stopped" || s.vmState == "error"))) {
			c.conflict(x, s, "reboot")
			return
		}
		if typ == "SOFT" {
			s.status, s.taskState = "REBOOT", "reboot_started"
		} else {
			s.status, s.taskState = "HARD_REBOOT", "reboot_started_hard"
		}
		c.later(step, func() {
			if c.servers[s.id] == s && strings.HasPrefix(s.taskState, "reboot") {
				s.status, s.vmState, s.taskState, s.powerState, s.updated = "ACTIVE", "active", "", 1, time.Now()
				s.reboots++
			}
		})
		x.empty(http.StatusAccepted)
	case "resize":
		m, _ := arg.(map[string]any)
		ref, _ := m["flavorRef"].(string)
		if ref == "" {
			x.fail(http.StatusBadRequest, "Invalid input for field/attribute flavorRef. Value: None. None is not of type 'string'")
			return
		}
		nf := c.flavors[ref]
		if nf == nil {
			x.fail(http.StatusBadRequest, "Unable to locate requested flavor.")
			return
		}
		if s.busy() || (s.vmState != "active" && s.vmState != "stopped") {
			c.conflict(x, s, "resize")
			return
		}
		of := c.flavors[s.flavorID]
		if nf.id == of.id {
			x.fail(http.StatusBadRequest, "When resizing, instances must change flavor!")
			return
		}
		if nf.diskGB < of.diskGB {
			x.fail(http.StatusBadRequest, "Resize error: Unable to resize disk down.")
			return
		}
		q, used := c.quota(s.projectID), c.computeUsage(s.projectID)
		if d := nf.vcpus - of.vcpus; d > 0 && used.cores+d > q.Cores {
			x.fail(http.StatusForbidden, fmt.Sprintf("Quota exceeded for cores: Requested %d, but already used %d of %d cores", d, used.cores, q.Cores))
			return
		}
		if d := nf.ramMB - of.ramMB; d > 0 && used.ram+d > q.RAMMB {
			x.fail(http.StatusForbidden, fmt.Sprintf("Quota exceeded for ram: Requested %d, but already used %d of %d ram", d, used.ram, q.RAMMB))
			return
		}
		s.preResizeStatus = s.status
		s.status, s.taskState = "RESIZE", "resize_prep"
		c.later(step, func() {
			if c.servers[s.id] == s && s.status == "RESIZE" {
				s.oldFlavorID, s.flavorID = s.flavorID, nf.id
				s.status, s.vmState, s.taskState, s.updated = "VERIFY_RESIZE", "resized", "", time.Now()
				s.powerState = 1
			}
		})
		x.empty(http.StatusAccepted)
	case "confirmResize", "revertResize":
		if s.status != "VERIFY_RESIZE" {
			c.conflict(x, s, action)
			return
		}
		if action == "revertResize" {
			s.flavorID = s.oldFlavorID
		}
		s.oldFlavorID = ""
		back := s.preResizeStatus
		s.taskState = map[string]string{"confirmResize": "resize_confirming", "revertResize": "resize_reverting"}[action]
		c.later(step/2, func() {
			if c.servers[s.id] != s {
				return
			}
			if back == "SHUTOFF" {
				s.status, s.vmState, s.powerState = "SHUTOFF", "stopped", 4
			} else {
				s.status, s.vmState, s.powerState = "ACTIVE", "active", 1
			}
			s.taskState, s.updated = "", time.Now()
		})
		x.empty(http.StatusNoContent)
	case "addSecurityGroup", "removeSecurityGroup":
		m, _ := arg.(map[string]any)
		name, _ := m["name"].(string)
		sg := c.secgroupByNameOrID(s.projectID, name)
		if sg == nil {
			x.fail(http.StatusNotFound, fmt.Sprintf("Security group %s not found for project %s.", name, s.projectID))
			return
		}
		for _, pid := range s.ports {
			if p := c.ports[pid]; p != nil {
				if action == "addSecurityGroup" && !slices.Contains(p.secGroups, sg.id) {
					p.secGroups = append(p.secGroups, sg.id)
				} else if action == "removeSecurityGroup" {
					p.secGroups = slices.DeleteFunc(p.secGroups, func(id string) bool { return id == sg.id })
				}
			}
		}
		x.empty(http.StatusAccepted)
	default:
		if slices.Contains(novaActions, action) {
			x.notImplemented()
			return
		}
		x.fail(http.StatusBadRequest, "There is no such action: "+action)
	}
}

func (c *Cloud) serverMetadata(x *call, s *server, key string) {
	switch {
	case key == "" && x.r.Method == http.MethodGet:
		x.json(http.StatusOK, map[string]any{"metadata": s.metadata})
	case key == "" && (x.r.Method == http.MethodPost || x.r.Method == http.MethodPut):
		var req struct {
			Metadata map[string]string `json:"metadata"`
		}
		if !x.decode(&req) {
			return
		}
		if x.r.Method == http.MethodPut {
			s.metadata = map[string]string{}
		}
		for k, v := range req.Metadata {
			s.metadata[k] = v
		}
		x.json(http.StatusOK, map[string]any{"metadata": s.metadata})
	case key != "" && x.r.Method == http.MethodGet:
		v, ok := s.metadata[key]
		if !ok {
			x.fail(http.StatusNotFound, "Metadata item was not found")
			return
		}
		x.json(http.StatusOK, map[string]any{"meta": map[string]string{key: v}})
	case key != "" && x.r.Method == http.MethodPut:
		var req struct {
			Meta map[string]string `json:"meta"`
		}
		if !x.decode(&req) {
			return
		}
		for k, v := range req.Meta {
			s.metadata[k] = v
		}
		x.json(http.StatusOK, map[string]any{"meta": req.Meta})
	case key != "" && x.r.Method == http.MethodDelete:
		if _, ok := s.metadata[key]; !ok {
			x.fail(http.StatusNotFound, "Metadata item was not found")
			return
		}
		delete(s.metadata, key)
		x.empty(http.StatusNoContent)
	default:
		x.fail(http.StatusMethodNotAllowed, "The method specified is not allowed for this resource.")
	}
}

func (c *Cloud) serverTags(x *call, s *server, mv string) {
	if !atLeast(mv, "2.26") {
		x.fail(http.StatusNotFound, "The resource could not be found.")
		return
	}
	switch x.r.Method {
	case http.MethodGet:
		x.json(http.StatusOK, map[string]any{"tags": nonNilStrings(s.tags)})
	case http.MethodPut:
		var req struct {
			Tags []string `json:"tags"`
		}
		if !x.decode(&req) {
			return
		}
		s.tags = req.Tags
		x.json(http.StatusOK, map[string]any{"tags": nonNilStrings(s.tags)})
	case http.MethodDelete:
		s.tags = nil
		x.empty(http.StatusNoContent)
	default:
		x.fail(http.StatusMethodNotAllowed, "The method specified is not allowed for this resource.")
	}
}

func (c *Cloud) interfaceBody(p *port) map[string]any {
	var fixed []any
	for _, f := range p.fixedIPs {
		fixed = append(fixed, map[string]any{"subnet_id": f.subnetID, "ip_address": f.ip})
	}
	return map[string]any{"port_state": p.status, "fixed_ips": nonNil(fixed), "port_id": p.id, "net_id": p.networkID, "mac_addr": p.mac}
}

// --- volume attachments ---

func (s *server) attachment(volumeID string) *volumeAttachment {
	for _, a := range s.attachments {
		if a.volumeID == volumeID {
			return a
		}
	}
	return nil
}

func attachmentBody(s *server, a *volumeAttachment) map[string]any {
	return map[string]any{"id": a.volumeID, "serverId": s.id, "volumeId": a.volumeID, "device": a.device}
}

var devicePathRE = regexp.MustCompile(`^/dev/[a-z]+$`)

func (c *Cloud) attachVolume(x *call, s *server) {
	var req struct {
		VolumeAttachment *struct {
			VolumeID string `json:"volumeId"`
			Device   string `json:"device"`
		} `json:"volumeAttachment"`
	}
	if !x.decode(&req) {
		return
	}
	if req.VolumeAttachment == nil || req.VolumeAttachment.VolumeID == "" {
		x.fail(http.StatusBadRequest, "Invalid input for field/attribute volumeId. Value: None. None is not of type 'string'")
		return
	}
	va := req.VolumeAttachment
	if s.busy() || s.deleting || (s.vmState != "active" && s.vmState != "stopped") {
		c.conflict(x, s, "attach_volume")
		return
	}
	v := c.volumes[va.VolumeID]
	if v == nil || v.projectID != s.projectID {
		x.fail(http.StatusNotFound, fmt.Sprintf("Volume %s could not be found.", va.VolumeID))
		return
	}
	if v.status != "available" {
		x.fail(http.StatusBadRequest, fmt.Sprintf("Invalid volume: volume %s status must be 'available'. Currently in '%s'", v.id, v.status))
		return
	}
	if v.az != s.az {
		x.fail(http.StatusBadRequest, fmt.Sprintf("Invalid volume: Instance %s and volume %s are not in the same availability_zone. Instance is in %s. Volume is in %s", s.id, v.id, s.az, v.az))
		return
	}
	used := map[string]bool{"/dev/vda": true}
	for _, a := range s.attachments {
		used[a.device] = true
	}
	device := va.Device
	if device != "" {
		if !devicePathRE.MatchString(device) {
			x.fail(http.StatusBadRequest, fmt.Sprintf("The supplied device path (%s) is invalid.", device))
			return
		}
		if used[device] {
			x.fail(http.StatusBadRequest, fmt.Sprintf("The supplied device path (%s) is in use.", device))
			return
		}
	} else {
		for l := 'b'; l <= 'z'; l++ {
			if d := "/dev/vd" + string(l); !used[d] {
				device = d
				break
			}
		}
	}
	a := &volumeAttachment{volumeID: v.id, device: device}
	s.attachments = append(s.attachments, a)
	v.status = "attaching"
	v.attachments = append(v.attachments, &cinderAttachment{id: newID(), serverID: s.id, device: device, at: time.Now()})
	c.later(c.opts.VolumeTime, func() {
		if c.volumes[v.id] == v && v.status == "attaching" {
			v.status = "in-use"
		}
	})
	x.json(http.StatusOK, map[string]any{"volumeAttachment": attachmentBody(s, a)})
}

func (c *Cloud) detachVolume(x *call, s *server, a *volumeAttachment) {
	v := c.volumes[a.volumeID]
	if a.detaching || v == nil || v.status != "in-use" {
		x.fail(http.StatusBadRequest, "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.")
		return
	}
	if s.busy() {
		c.conflict(x, s, "detach_volume")
		return
	}
	a.detaching = true
	v.status = "detaching"
	c.later(c.opts.VolumeTime, func() {
		s.attachments = slices.DeleteFunc(s.attachments, func(b *volumeAttachment) bool { return b == a })
		if c.volumes[v.id] == v {
			v.detach(s.id)
		}
	})
	x.empty(http.StatusAccepted)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nonNil(list []any) []any {
	if list == nil {
		return []any{}
	}
	return list
}

func nonNilStrings(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

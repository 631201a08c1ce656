package tosca2tf

import (
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"orchestrator/jobs/toolchain/tftest"
)

// Templates written the way INDIGO and INFN catalogs write them (our own, using
// the INDIGO type library as operators map it), checked through real Terraform.

const indigoKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1jV3xz0bBkB5E1Zb9+8m6bN1dM0pQeTt0q5n3bY1f alice@lab"

// indigoPortal is a web portal on one VM: a public and a private network in
// INDIGO's style, a 20 GB data volume mounted at /data, an account for alice,
// and a portal whose dns_name is made of its own host's public address.
const indigoPortal = `tosca_definitions_version: tosca_simple_yaml_1_0

imports:
  - indigo_custom_types: https://raw.githubusercontent.com/indigo-dc/tosca-types/v4.0.0/custom_types.yaml

description: A web portal with a data volume, reachable on a public address.

node_types:
  example.nodes.Portal:
    derived_from: tosca.nodes.WebServer
    properties:
      dns_name:
        type: string
        required: false
      admin_email:
        type: string
        required: false

topology_template:
  inputs:
    data_size:
      type: scalar-unit.size
      default: 20 GB
    mem_size:
      type: string
      default: 8 GB
    users:
      type: list
      entry_schema: { type: tosca.datatypes.indigo.User }
      default:
        - os_user_name: alice
          os_user_add_to_sudoers: true
          os_user_ssh_public_key: "` + indigoKey + `"
        - os_user_name: bob
          os_user_guid: 2002

  node_templates:
    pub_network:
      type: tosca.nodes.network.Network
      properties:
        network_type: public

    priv_network:
      type: tosca.nodes.network.Network
      properties:
        network_type: private

    portal_server_pub_port:
      type: tosca.nodes.network.Port
      properties:
        order: 1
      requirements:
        - binding: portal_server
        - link: pub_network

    portal_server_priv_port:
      type: tosca.nodes.network.Port
      properties:
        order: 0
      requirements:
        - binding: portal_server
        - link: priv_network

    portal:
      type: example.nodes.Portal
      properties:
        dns_name: { concat: [ "portal-", { get_attribute: [ HOST, public_address, 0 ] }, ".nip.io" ] }
        admin_email: { concat: [ "admin@", { get_attribute: [ HOST, private_address, 0 ] } ] }
      requirements:
        - host: portal_server

    portal_server:
      type: tosca.nodes.indigo.Compute
      properties:
        os_users: { get_input: users }
        tags: { project: genomics }
      capabilities:
        endpoint:
          properties:
            dns_name: portal.example.org
            ports:
              https: { protocol: tcp, source: 443 }
        scalable:
          properties:
            count: 1
        host:
          properties:
            num_cpus: 2
            mem_size: { get_input: mem_size }
        os:
          properties:
            distribution: ubuntu
            version: "24.04"
      requirements:
        - local_storage:
            node: portal_data
            relationship:
              type: tosca.relationships.indigo.AttachesTo
              properties:
                location: /data
                fs_type: xfs

    portal_data:
      type: tosca.nodes.indigo.BlockStorage
      properties:
        size: { get_input: data_size }

  outputs:
    portal_ip:
      value: { get_attribute: [ portal_server, public_address, 0 ] }
    portal_url:
      value: { concat: [ "https://", { get_attribute: [ portal_server, public_address, 0 ] }, "/" ] }
    first_user:
      value: { get_property: [ portal_server, os_users, 0, os_user_name ] }
    third_user:
      value: { get_property: [ portal_server, os_users, 2, os_user_name ] }
`

func parseIndigo(t *testing.T, content string) *Template {
	t.Helper()
	tmpl, err := Parse(context.Background(), Source{Name: "portal.yaml", Content: []byte(content)}, corpusResolver(corpusDir(t)))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return tmpl
}

type rootModule struct {
	Module map[string]map[string]any `json:"module"`
	Output map[string]map[string]any `json:"output"`
}

func decodeRoot(t *testing.T, res *Result) rootModule {
	t.Helper()
	var root rootModule
	if err := json.Unmarshal(res.Main, &root); err != nil {
		t.Fatal(err)
	}
	return root
}

func warningAbout(ws Errors, node, text string) *Error {
	for _, w := range ws {
		if w.Node == node && strings.Contains(w.Message, text) {
			return w
		}
	}
	return nil
}

// What INDIGO's semantics make of the portal, in the generated configuration.
func TestIndigo_PortalTranslation(t *testing.T) {
	tmpl := parseIndigo(t, indigoPortal)
	res, err := Translate(tmpl, Options{Target: "openstack", DeploymentID: "portal"})
	if err != nil {
		t.Fatalf("translate: %v", err)
	}
	root := decodeRoot(t, res)
	// network_type public and private are the target's networks, not new ones,
	// and the ports to them are the server's own interfaces.
	for _, absent := range []string{"pub_network", "priv_network", "portal_server_pub_port", "portal_server_priv_port"} {
		if _, ok := root.Module[absent]; ok {
			t.Errorf("%s must not become a module", absent)
		}
	}
	server := root.Module["portal_server"]
	if server["public_address"] != true || server["network"] != nil {
		t.Errorf("the server must ask for a floating IP on the default network: public_address %v, network %v", server["public_address"], server["network"])
	}
	// 8 GB from a string input is converted here, not by Terraform.
	if server["mem_size_mb"] != 7630.0 {
		t.Errorf("mem_size_mb = %v", server["mem_size_mb"])
	}
	if data := root.Module["portal_data"]; data["size_gb"] != 20.0 {
		t.Errorf("a 20 GB volume must be 20 GB on the cloud, got %v", data["size_gb"])
	}
	vols, _ := server["volumes"].([]any)
	if len(vols) != 1 {
		t.Fatalf("volumes: %v", server["volumes"])
	}
	if v := vols[0].(map[string]any); v["location"] != "/data" || v["fs_type"] != "xfs" || v["format"] != true || v["volume_id"] != "${module.portal_data[count.index].id}" {
		t.Errorf("volume: %v", v)
	}
	users, _ := server["users"].([]any)
	if len(users) != 2 || users[0].(map[string]any)["name"] != "alice" || users[0].(map[string]any)["sudo"] != true ||
		users[1].(map[string]any)["uid"] != 2002.0 {
		t.Errorf("users: %v", server["users"])
	}
	if tags, _ := server["tags"].(map[string]any); tags["project"] != "genomics" {
		t.Errorf("tags: %v", server["tags"])
	}
	// The portal's payload sits outside the server's module, after it.
	sw := root.Module["portal_server_software"]
	payload, _ := json.Marshal(sw["software"])
	if sw["host_id"] != "${module.portal_server[count.index].id}" || !strings.Contains(string(payload), `module.portal_server[0].public_address`) {
		t.Errorf("software module: %v", sw)
	}
	if _, ok := server["depends_on"]; ok {
		t.Errorf("no depends_on where references order the modules: %v", server["depends_on"])
	}
	// Outputs: the public address resolves; a user past the end is null with a warning.
	if v := root.Output["portal_ip"]["value"]; v != "${module.portal_server[0].public_address}" {
		t.Errorf("portal_ip = %v", v)
	}
	if v := root.Output["first_user"]["value"]; v != `${var.users[0]["os_user_name"]}` {
		t.Errorf("first_user = %v", v)
	}
	if v, ok := root.Output["third_user"]["value"]; !ok || v != nil {
		t.Errorf("third_user must be null, got %v", v)
	}
	if w := warningAbout(res.Warnings, "", "output \"third_user\""); w == nil || !strings.Contains(w.Message, "out of range") || w.Pos.Line == 0 {
		t.Errorf("no positioned warning for third_user: %v", res.Warnings)
	}
	// What is not honoured says so, with node and line.
	if w := warningAbout(res.Warnings, "portal_server", `capability "endpoint" property "dns_name"`); w == nil || w.Pos.Line != 80 {
		t.Errorf("no warning for the endpoint dns_name at line 80: %v", res.Warnings)
	}
	if w := warningAbout(res.Warnings, "portal", "recorded as configuration"); w == nil || w.Pos.Line == 0 {
		t.Errorf("no warning that the portal is not configured: %v", res.Warnings)
	}
	for _, w := range res.Warnings {
		if w.Pos.Line == 0 {
			t.Errorf("warning without a line: %v", w)
		}
		for _, honoured := range []string{"os_users", "tags", "network_type", "location", "fs_type", `"order"`} {
			if strings.Contains(w.Message, honoured) && w.Kind == KindUnsupported && !strings.Contains(w.Message, "recorded as configuration") {
				t.Errorf("%s is honoured, yet: %v", honoured, w)
			}
		}
	}
	var nodes = map[string]NodeInfo{}
	for _, n := range res.Nodes {
		nodes[n.Name] = n
	}
	if n := nodes["pub_network"]; n.Kind != "recorded" || !strings.Contains(n.Note, "floating IP") {
		t.Errorf("pub_network: %+v", n)
	}
}

// The portal through real Terraform on local: the floating address and the
// outputs built from it are there, the payload's dns_name is made of the same
// address (no cycle), and the server records its accounts, its mount and the
// cloud-init it would boot with.
func TestIndigo_PortalAppliesOnLocal(t *testing.T) {
	tmpl := parseIndigo(t, indigoPortal)
	res, err := Translate(tmpl, Options{Target: "local", DeploymentID: "portal", SSHPublicKeys: []string{indigoKey}})
	if err != nil {
		t.Fatalf("translate: %v", err)
	}
	tc := tftest.Find(t)
	dir := writeWorkdir(t, "local", res)
	tc.Run(t, dir, "init", "-input=false")
	tc.Run(t, dir, "apply", "-auto-approve", "-input=false")
	var outs map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(tc.Run(t, dir, "output", "-json")), &outs); err != nil {
		t.Fatal(err)
	}
	var ip, url string
	json.Unmarshal(outs[res.Outputs["portal_ip"]].Value, &ip)
	json.Unmarshal(outs[res.Outputs["portal_url"]].Value, &url)
	if parsed := net.ParseIP(ip); parsed == nil || !strings.HasPrefix(ip, "172.24.4.") || url != "https://"+ip+"/" {
		t.Fatalf("portal_ip %q, portal_url %q", ip, url)
	}
	// A null output is left out of Terraform's outputs.
	if v, ok := outs[res.Outputs["third_user"]]; ok && string(v.Value) != "null" {
		t.Errorf("third_user: %s", v.Value)
	}

	var state struct {
		Values struct {
			Root struct {
				Children []struct {
					Address   string `json:"address"`
					Resources []struct {
						Address string         `json:"address"`
						Values  map[string]any `json:"values"`
					} `json:"resources"`
				} `json:"child_modules"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(tc.Run(t, dir, "show", "-json")), &state); err != nil {
		t.Fatal(err)
	}
	var server, payload map[string]any
	for _, child := range state.Values.Root.Children {
		for _, r := range child.Resources {
			switch r.Address {
			case "module.portal_server[0].terraform_data.server":
				server, _ = r.Values["output"].(map[string]any)
			case "module.portal_server_software[0].terraform_data.software":
				payload, _ = r.Values["output"].(map[string]any)
			}
		}
	}
	if server == nil || payload == nil {
		t.Fatalf("server or payload missing from the state")
	}
	sw := payload["software"].([]any)[0].(map[string]any)["properties"].(map[string]any)
	if sw["dns_name"] != "portal-"+ip+".nip.io" || sw["admin_email"] != "admin@"+server["private_address"].(string) {
		t.Errorf("payload: dns_name %v admin_email %v", sw["dns_name"], sw["admin_email"])
	}
	mounts, _ := server["mounts"].([]any)
	if len(mounts) != 1 || mounts[0].(map[string]any)["location"] != "/data" || mounts[0].(map[string]any)["fs_type"] != "xfs" {
		t.Errorf("mounts: %v", server["mounts"])
	}
	text, _ := server["cloud_init"].(string)
	var cc struct {
		Users  []any      `yaml:"users"`
		Runcmd [][]string `yaml:"runcmd"`
	}
	if err := yaml.Unmarshal([]byte(text), &cc); err != nil {
		t.Fatalf("cloud-init: %v\n%s", err, text)
	}
	if len(cc.Users) != 3 || cc.Users[0] != "default" || cc.Users[1].(map[string]any)["name"] != "alice" ||
		cc.Users[2].(map[string]any)["uid"] != 2002 {
		t.Errorf("cloud-init users: %v", cc.Users)
	}
	if len(cc.Runcmd) != 1 || cc.Runcmd[0][2] != "/data" || cc.Runcmd[0][3] != "xfs" || cc.Runcmd[0][4] != "format" {
		t.Errorf("cloud-init runcmd: %v", cc.Runcmd)
	}
}

// On openstack the portal validates and plans with the real provider and no
// cloud: the server boots with cloud-init (accounts, the /data mount) and gets
// a floating IP on the port Nova makes on the default network.
func TestIndigo_PortalPlansOnOpenStack(t *testing.T) {
	// An existing volume (by id) makes the rendered cloud-init known at plan time.
	content := strings.Replace(indigoPortal, "        size: { get_input: data_size }",
		"        size: { get_input: data_size }\n        volume_id: 6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", 1)
	tmpl := parseIndigo(t, content)
	res, err := Translate(tmpl, Options{Target: "openstack", DeploymentID: "portal", SSHPublicKeys: []string{indigoKey}})
	if err != nil {
		t.Fatalf("translate: %v", err)
	}
	root := decodeRoot(t, res)
	root.Output["portal_cloud_init"] = map[string]any{"value": "${module.portal_server[0].cloud_init}"}
	var raw map[string]any
	json.Unmarshal(res.Main, &raw)
	raw["output"] = root.Output
	res.Main, _ = json.Marshal(raw)

	tc := tftest.Find(t)
	dir := writeWorkdir(t, "openstack", res)
	tc.Run(t, dir, "init", "-input=false")
	tc.Run(t, dir, "validate")
	out := openstackPlan(t, tc, dir)
	for _, want := range []string{
		"module.portal_server[0].openstack_compute_instance_v2.server will be created",
		"module.portal_server[0].openstack_networking_floatingip_v2.public[0] will be created",
		"module.portal_server[0].openstack_networking_floatingip_associate_v2.public[0] will be created",
		"module.portal_server[0].data.openstack_networking_port_v2.by_name[0] will be read during apply",
		"module.portal_server_attach_portal_data[0].openstack_compute_volume_attach_v2.attachment will be created",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	var plan struct {
		PlannedValues struct {
			Outputs map[string]struct {
				Value any `json:"value"`
			} `json:"outputs"`
		} `json:"planned_values"`
	}
	if err := json.Unmarshal([]byte(tc.Run(t, dir, "show", "-json", "tfplan")), &plan); err != nil {
		t.Fatal(err)
	}
	text, _ := plan.PlannedValues.Outputs["portal_cloud_init"].Value.(string)
	for _, want := range []string{"#cloud-config\n", `"name": "alice"`, `"sudo": "ALL=(ALL) NOPASSWD:ALL"`, `"uid": 2002`,
		`- "/usr/local/sbin/orchestrator-mount-volume"` + "\n  - \"6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\"\n  - \"/data\"\n  - \"xfs\"\n  - \"keep\""} {
		if !strings.Contains(text, want) {
			t.Errorf("cloud-init lacks %q:\n%s", want, text)
		}
	}
}

// openstackPlan plans offline: the provider is configured to a port where
// nothing listens (planning new resources never calls it).
func openstackPlan(t *testing.T, tc tftest.Toolchain, dir string) string {
	t.Helper()
	cmd := exec.Command(tc.Terraform, "plan", "-input=false", "-no-color", "-out=tfplan")
	cmd.Dir = dir
	cmd.Env = append(tc.Env(t), "OS_AUTH_URL=http://127.0.0.1:9/v3", "OS_USERNAME=nobody", "OS_PASSWORD=not-a-secret",
		"OS_PROJECT_NAME=none", "OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default", "OS_REGION_NAME=RegionOne")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("terraform plan: %v\n%s", err, out)
	}
	return string(out)
}

// A dns_name made of its own host's address, and two software nodes each
// referring to the other's host while depending on each other: none of it
// makes a cycle on either target.
func TestIndigo_NoCycles(t *testing.T) {
	content := `tosca_definitions_version: tosca_simple_yaml_1_0
imports:
  - indigo_custom_types: https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml
node_types:
  example.nodes.Service:
    derived_from: tosca.nodes.SoftwareComponent
    properties:
      dns_name: { type: string, required: false }
      peer: { type: string, required: false }
topology_template:
  node_templates:
    a_server:
      type: tosca.nodes.indigo.Compute
      capabilities:
        endpoint: { properties: { network_name: PUBLIC } }
    b_server:
      type: tosca.nodes.indigo.Compute
      capabilities:
        endpoint: { properties: { network_name: PUBLIC } }
    a:
      type: example.nodes.Service
      properties:
        dns_name: { concat: [ "a-", { get_attribute: [ HOST, public_address, 0 ] } ] }
        peer: { get_attribute: [ b_server, private_address, 0 ] }
      requirements:
        - host: a_server
        - dependency: b
    b:
      type: example.nodes.Service
      properties:
        dns_name: { concat: [ "b-", { get_attribute: [ HOST, public_address, 0 ] } ] }
        peer: { get_attribute: [ a_server, private_address, 0 ] }
      requirements:
        - host: b_server
        - dependency: a
`
	tmpl := parseIndigo(t, content)
	tc := tftest.Find(t)
	for _, target := range []string{"local", "openstack"} {
		t.Run(target, func(t *testing.T) {
			res, err := Translate(tmpl, Options{Target: target, DeploymentID: "cycles"})
			if err != nil {
				t.Fatalf("translate: %v", err)
			}
			if w := warningAbout(res.Warnings, "b", "order after \"a\" is dropped"); w == nil || w.Kind != KindCycle || w.Pos.Line != 35 {
				t.Errorf("the second of two mutual dependencies must be dropped with a warning at its line: %v", res.Warnings)
			}
			dir := writeWorkdir(t, target, res)
			tc.Run(t, dir, "init", "-input=false")
			if target == "local" {
				tc.Run(t, dir, "apply", "-auto-approve", "-input=false")
				return
			}
			tc.Run(t, dir, "validate")
			openstackPlan(t, tc, dir)
		})
	}
}

// A loop made by references alone is refused by the translator, with the nodes
// named, before Terraform would meet it.
func TestTranslate_ReferenceLoopIsAnError(t *testing.T) {
	tmpl := mustParse(t, `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  node_templates:
    net:
      type: tosca.nodes.network.Network
      properties:
        cidr: 10.0.0.0/24
        network_name: { get_attribute: [ port, ip_address ] }
    port:
      type: tosca.nodes.network.Port
      properties:
        ip_address: { get_attribute: [ net, cidr ] }
      requirements:
        - binding: vm
        - link: net
    vm:
      type: tosca.nodes.Compute
`)
	_, err := Translate(tmpl, Options{Target: "local"})
	errs, _ := err.(Errors)
	if len(errs) == 0 || errs[0].Kind != KindCycle || !strings.Contains(errs[0].Message, "refer to each other") || errs[0].Node == "" {
		t.Fatalf("want a cycle error naming the nodes, got %v", err)
	}
}

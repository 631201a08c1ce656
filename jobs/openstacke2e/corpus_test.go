package openstacke2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"orchestrator/modules/openstack/ossim"
	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// Real templates from the shared TOSCA corpus (../shared/tosca-corpus), each
// created on the openstack target and deleted again: every resource the
// engine reports is one the cloud holds, and nothing is left afterwards. Ten
// templates chosen for variety (INDIGO, heat-translator, puccini, the TOSCA
// spec; networks and ports, volumes, object storage, explicit flavors and
// images, software on hosts) keep the suite within its time budget.

func corpusDir(t *testing.T) string {
	if d := os.Getenv("ORCHESTRATOR_TOSCA_CORPUS"); d != "" {
		return d
	}
	d, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "tosca-corpus"))
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("the TOSCA corpus is not at %s (set ORCHESTRATOR_TOSCA_CORPUS): %v", d, err)
	}
	return d
}

// corpusResolver serves the type libraries the corpus imports from its _types dir.
func corpusResolver(dir string) *tosca2tf.Resolver {
	return &tosca2tf.Resolver{AllowLocal: true, Mappings: []tosca2tf.Mapping{
		{Prefix: "https://raw.githubusercontent.com/indigo-dc/tosca-types/master/", Dir: filepath.Join(dir, "_types", "indigo-dc_tosca-types")},
		{Prefix: "https://baltig.infn.it/infn-cloud/tosca-types/raw/v3.4.0/", Dir: filepath.Join(dir, "_types", "infn-cloud_tosca-types_v3.4.0")},
	}}
}

// corpusImages are the images a research cloud's catalog would offer for the
// corpus: the operating systems its templates ask for, and the images some
// name explicitly.
var corpusImages = []ossim.Image{
	{Name: "ubuntu-16.04", Properties: map[string]string{"os_distro": "ubuntu", "os_version": "16.04"}},
	{Name: "ubuntu-14.04", Properties: map[string]string{"os_distro": "ubuntu", "os_version": "14.04"}},
	{Name: "centos-7-x86_64", Properties: map[string]string{"os_distro": "centos", "os_version": "7"}},
	{Name: "fedora-18", Properties: map[string]string{"os_distro": "fedora", "os_version": "18.0"}},
	{Name: "cirros-0.3.2", Properties: map[string]string{"os_distro": "cirros", "os_version": "0.3.2"}},
	{Name: "ubuntu-6.5", Properties: map[string]string{"os_distro": "ubuntu", "os_version": "6.5"}}, // TOSCA 1.3's hello world asks for it
	{Name: "rhel-6.5-test-image"},
	{Name: "indigodatacloudapps/galaxy"},
}

func TestCorpusTemplatesOnOpenStack(t *testing.T) {
	dir := corpusDir(t)
	cases := []struct {
		path   string
		inputs map[string]any
	}{
		{"indigo-dc_tosca-types_examples/node_with_instance_type.yaml", nil},
		{"indigo-dc_tosca-types_examples/web_mysql_tosca.yaml", nil},
		{"indigo-dc_tosca-templates/galaxy.yaml", nil},
		{"openstack_heat-translator/network/tosca_one_server_three_networks.yaml", nil},
		{"openstack_heat-translator/network/tosca_two_servers_one_network.yaml", map[string]any{"network_name": "corpus-net"}},
		{"openstack_heat-translator/storage/tosca_blockstorage_with_relationship_template.yaml", map[string]any{"cpus": 1, "storage_location": "/dev/vdc"}},
		{"openstack_heat-translator/storage/tosca_single_object_store.yaml", map[string]any{"objectstore_name": "corpus-store"}},
		{"openstack_heat-translator/test_tosca_flavor_and_image.yaml", nil},
		{"tliron_go-puccini/1.3/policies-and-groups.yaml", nil},
		{"oasis_tosca-community-contributions/1.3/examples-from-spec/hello-world/hello-world.yaml", nil},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(dir, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			e := newOpenStack(t, osOpts{sim: buildOnly, images: corpusImages, resolver: corpusResolver(dir)})
			d := e.submit(string(data), tc.inputs)
			d = e.wait(d.ID, store.CreateComplete)
			res := e.resources(d.ID)
			if len(res) == 0 {
				t.Fatal("no resources")
			}
			inv := e.cloud.Inventory(ossim.ProjectName)
			for name, r := range res {
				switch r.Kind {
				case "compute":
					s := e.serverOf(r, r.Attributes["public_address"] != nil)
					if s.Status != "ACTIVE" || r.State != store.ResStarted || s.Flavor != r.Attributes["flavor"] || s.Image != r.Attributes["image"] {
						t.Fatalf("%s: cloud %s %s %s, resource %s %v %v", name, s.Status, s.Flavor, s.Image, r.State, r.Attributes["flavor"], r.Attributes["image"])
					}
				case "block_storage":
					if v := e.volume(r.CloudID); v.Status != "in-use" && v.Status != "available" {
						t.Fatalf("%s: volume %+v", name, v)
					}
				case "object_storage":
					if !slices.Contains(inv.Containers, r.CloudID) {
						t.Fatalf("%s: no container %s in %v", name, r.CloudID, inv.Containers)
					}
				case "network":
					if !containsID(inv.Networks, r.CloudID) {
						t.Fatalf("%s: no network %s in %v", name, r.CloudID, inv.Networks)
					}
				case "port":
					if !containsID(inv.Ports, r.CloudID) {
						t.Fatalf("%s: no port %s in %v", name, r.CloudID, inv.Ports)
					}
				case "software":
					if r.Attributes["host_cloud_id"] == nil {
						t.Fatalf("%s: software without a host: %+v", name, r)
					}
				}
			}
			e.enqueue(d.ID, store.Request{Kind: store.RunDelete})
			e.wait(d.ID, store.DeleteComplete)
			e.checkNothingLeft()
			if unhandled := e.cloud.Unhandled(); len(unhandled) > 0 {
				t.Fatalf("the provider made calls the simulator does not cover: %+v", unhandled)
			}
			e.checkAuths()
		})
	}
}

// containsID reports whether an inventory entry ("name id") is for id.
func containsID(list []string, id string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return s == id || strings.HasSuffix(s, " "+id) })
}

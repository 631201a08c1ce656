package tosca2tf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func mustParse(t *testing.T, content string) *Template {
	t.Helper()
	tmpl, err := Parse(context.Background(), Source{Name: "test.yaml", Content: []byte(content)}, &Resolver{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return tmpl
}

func parseErrors(t *testing.T, content string) Errors {
	t.Helper()
	_, err := Parse(context.Background(), Source{Name: "test.yaml", Content: []byte(content)}, &Resolver{})
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v", err)
	}
	return errs
}

func translateErrors(t *testing.T, content string, inputs map[string]any) Errors {
	t.Helper()
	_, err := Translate(mustParse(t, content), Options{Target: "local", Inputs: inputs})
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v", err)
	}
	return errs
}

// TestGolden translates our examples for both targets and compares with the
// golden files (go test ./tosca2tf -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	examples, _ := filepath.Glob(filepath.Join("..", "examples", "*", "template.yaml"))
	if len(examples) < 5 {
		t.Fatalf("found %d examples", len(examples))
	}
	for _, ex := range examples {
		name := filepath.Base(filepath.Dir(ex))
		content, err := os.ReadFile(ex)
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range []string{"local", "openstack"} {
			t.Run(name+"/"+target, func(t *testing.T) {
				tmpl, err := Parse(context.Background(), Source{Name: name + ".yaml", Content: content}, &Resolver{})
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				opts := Options{Target: target, DeploymentID: "golden"}
				res, err := Translate(tmpl, opts)
				if err != nil {
					t.Fatalf("translate: %v", err)
				}
				again, _ := Translate(tmpl, opts)
				if !bytes.Equal(res.Main, again.Main) || !bytes.Equal(res.Vars, again.Vars) {
					t.Fatal("translation is not deterministic")
				}
				golden := filepath.Join("testdata", name+"."+target+".golden.json")
				if *update {
					os.MkdirAll("testdata", 0o755)
					if err := os.WriteFile(golden, res.Main, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("no golden file (run with -update): %v", err)
				}
				if !bytes.Equal(want, res.Main) {
					t.Fatalf("main.tf.json differs from %s (run with -update if intended):\n%s", golden, res.Main)
				}
			})
		}
	}
}

func TestTranslate_InputsNeverReachConfiguration(t *testing.T) {
	tmpl := mustParse(t, `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    distro: { type: string, default: ubuntu }
  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities:
        os: { properties: { distribution: { get_input: distro }, type: "${file(\"/etc/passwd\")}" } }
  outputs:
    greeting: { value: { concat: [ "%{ if true }x%{ endif }", { get_input: distro } ] } }
`)
	evil := `${file("/etc/shadow")}; rm -rf / %{ for x in y }`
	res, err := Translate(tmpl, Options{Target: "local", Inputs: map[string]any{"distro": evil}})
	if err != nil {
		t.Fatal(err)
	}
	main := string(res.Main)
	if strings.Contains(main, "shadow") || strings.Contains(main, "rm -rf") {
		t.Fatalf("an input value reached main.tf.json:\n%s", main)
	}
	// Template literals are escaped: "$${" and "%%{" are text for Terraform.
	if !strings.Contains(main, `"type": "$${file(\"/etc/passwd\")}"`) || !strings.Contains(main, `%%{ if true }`) {
		t.Fatalf("template literals are not escaped:\n%s", main)
	}
	var vars map[string]any
	json.Unmarshal(res.Vars, &vars)
	if vars["distro"] != evil {
		t.Fatalf("the input value must be in terraform.tfvars.json verbatim, got %v", vars["distro"])
	}
}

func TestTranslate_Functions(t *testing.T) {
	tmpl := mustParse(t, `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    n: { type: integer, default: 2 }
    words: { type: list, entry_schema: { type: string }, default: [a, b] }
  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities:
        scalable: { properties: { count: { get_input: n } } }
        host: { properties: { num_cpus: 2, mem_size: 4 GiB } }
    db:
      type: tosca.nodes.DBMS
      properties:
        port: { get_property: [ SELF, host, num_cpus ] }
        root_password: { concat: [ "pw-", { get_property: [ HOST, host, mem_size ] } ] }
      requirements:
        - host: vm
  outputs:
    all_ips: { value: { get_attribute: [ vm, private_address ] } }
    second_ip: { value: { get_attribute: [ vm, private_address, 1 ] } }
    joined: { value: { join: [ { get_input: words }, "," ] } }
    token: { value: { token: [ "a.b-c", ".-", 2 ] } }
    dbport: { value: { get_property: [ db, port ] } }
`)
	res, err := Translate(tmpl, Options{Target: "local"})
	if err != nil {
		t.Fatal(err)
	}
	main := string(res.Main)
	for _, want := range []string{
		`"count": "${var.n}"`,
		`"value": "${module.vm[*].private_address}"`,
		`"value": "${module.vm[1].private_address}"`,
		`"value": "${join(\",\", var.words)}"`,
		`"value": "c"`,
		`"mem_size_mb": 4096`,
	} {
		if !strings.Contains(main, want) {
			t.Errorf("main.tf.json lacks %s", want)
		}
	}
	// The DBMS is software on vm: recorded as its payload, with evaluated properties.
	if !strings.Contains(main, `"root_password": "pw-4 GiB"`) {
		t.Errorf("software payload lacks the evaluated property:\n%s", main)
	}
	var nodes = map[string]NodeInfo{}
	for _, n := range res.Nodes {
		nodes[n.Name] = n
	}
	if nodes["db"].Kind != "software" || nodes["db"].Host != "vm" || nodes["vm"].Count != 2 || !nodes["vm"].Scalable {
		t.Fatalf("node infos: %+v", res.Nodes)
	}
}

func TestParseErrors_ArePositioned(t *testing.T) {
	cases := []struct {
		name string
		src  string
		line int
		kind Kind
		msg  string
	}{
		{"yaml", "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template: [\n", 2, KindSyntax, "invalid YAML"},
		{"version", "tosca_definitions_version: tosca_2_0\n", 1, KindVersion, "unsupported"},
		{"unknown type", "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    a:\n      type: tosca.nodes.Nope\n", 5, KindUnknownType, "unknown type"},
		{"unknown property", "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    a:\n      type: tosca.nodes.Compute\n      properties:\n        colour: red\n", 7, KindUnknownName, "no property \"colour\""},
		{"bad value", "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    a:\n      type: tosca.nodes.Compute\n      capabilities:\n        host:\n          properties:\n            num_cpus: 0\n", 9, KindConstraint, "greater or equal"},
		{"bad input ref", "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    a:\n      type: tosca.nodes.Compute\n      capabilities:\n        host:\n          properties:\n            num_cpus: { get_input: nope }\n", 9, KindFunction, "unknown input"},
		{"unknown node", "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    s:\n      type: tosca.nodes.SoftwareComponent\n      requirements:\n        - host: ghost\n", 7, KindUnknownName, "unknown node \"ghost\""},
		{"default violates", "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  inputs:\n    n:\n      type: integer\n      default: 9\n      constraints: [ { less_than: 4 } ]\n  node_templates:\n    a: { type: tosca.nodes.Compute }\n", 6, KindConstraint, "less than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := parseErrors(t, tc.src)
			e := errs[0]
			if e.Pos.Line != tc.line || e.Kind != tc.kind || !strings.Contains(e.Message, tc.msg) || e.Pos.Column == 0 {
				t.Fatalf("got %s (kind %s), want line %d kind %s containing %q", e.Error(), e.Kind, tc.line, tc.kind, tc.msg)
			}
		})
	}
}

func TestTranslate_UnsupportedNodeNamesNodeTypeAndLine(t *testing.T) {
	errs := translateErrors(t, `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  node_templates:
    lb:
      type: tosca.nodes.LoadBalancer
`, nil)
	e := errs[0]
	if e.Kind != KindUnsupported || e.Pos.Line != 5 || !strings.Contains(e.Message, `"lb"`) || !strings.Contains(e.Message, "tosca.nodes.LoadBalancer") {
		t.Fatalf("got %s", e.Error())
	}
}

func TestTranslate_BadInputValueForProperty(t *testing.T) {
	errs := translateErrors(t, `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    cpus: { type: integer, default: 2 }
  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities: { host: { properties: { num_cpus: { get_input: cpus } } } }
`, map[string]any{"cpus": int64(0)})
	if !strings.Contains(errs[0].Message, "greater or equal") {
		t.Fatalf("a property fed by an input is checked with the input's value: %s", errs[0])
	}
}

func TestImports(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "lib")
	os.MkdirAll(filepath.Join(lib, "v1"), 0o755)
	os.WriteFile(filepath.Join(lib, "v1", "types.yaml"), []byte(`tosca_definitions_version: tosca_simple_yaml_1_3
node_types:
  example.nodes.Server:
    derived_from: tosca.nodes.Compute
    properties:
      flavor: { type: string, required: false }
`), 0o644)
	os.WriteFile(filepath.Join(dir, "secret.yaml"), []byte("not for templates"), 0o644)
	tmpl := func(url string) []byte {
		return []byte(`tosca_definitions_version: tosca_simple_yaml_1_3
imports:
  - lib: ` + url + `
topology_template:
  node_templates:
    s: { type: example.nodes.Server, properties: { flavor: large } }
`)
	}
	r := &Resolver{Mappings: []Mapping{{Prefix: "https://types.example.org/", Dir: lib}}}
	if _, err := Parse(context.Background(), Source{Name: "t.yaml", Content: tmpl("https://types.example.org/v1/types.yaml")}, r); err != nil {
		t.Fatalf("mapped import: %v", err)
	}
	for _, bad := range []string{"https://types.example.org/../secret.yaml", "https://types.example.org/v1/../../secret.yaml",
		"https://other.example.org/types.yaml", "../secret.yaml", "/etc/passwd"} {
		_, err := Parse(context.Background(), Source{Name: "t.yaml", Content: tmpl(bad)}, r)
		if err == nil {
			t.Fatalf("import %s resolved", bad)
		}
		if e := err.(Errors)[0]; e.Kind != KindImport || e.Pos.Line != 3 {
			t.Fatalf("import %s: %s", bad, e)
		}
		if strings.HasPrefix(bad, "https://other") && !strings.Contains(err.Error(), bad) {
			t.Fatalf("the error must name the URL: %v", err)
		}
	}

	// Fetching: off unless allowed; then bounded in size and cached.
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path == "/big.yaml" {
			w.Write(bytes.Repeat([]byte("#"), 2<<20))
			return
		}
		data, _ := os.ReadFile(filepath.Join(lib, "v1", "types.yaml"))
		w.Write(data)
	}))
	defer srv.Close()
	if _, err := Parse(context.Background(), Source{Name: "t.yaml", Content: tmpl(srv.URL + "/types.yaml")}, &Resolver{}); err == nil {
		t.Fatal("fetching must be off by default")
	}
	fr := &Resolver{Fetch: &FetchConfig{Allow: []string{srv.URL + "/"}, MaxBytes: 1 << 20}}
	for i := 0; i < 2; i++ {
		if _, err := Parse(context.Background(), Source{Name: "t.yaml", Content: tmpl(srv.URL + "/types.yaml")}, fr); err != nil {
			t.Fatalf("allowed fetch: %v", err)
		}
	}
	if hits != 1 {
		t.Fatalf("fetched %d times, want 1 (cached)", hits)
	}
	if _, err := Parse(context.Background(), Source{Name: "t.yaml", Content: tmpl(srv.URL + "/big.yaml")}, fr); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("size cap: %v", err)
	}
}

func TestTranslate_InstanceCountIsBounded(t *testing.T) {
	tmpl := mustParse(t, `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    n: { type: integer, default: 1 }
  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities: { scalable: { properties: { count: { get_input: n } } } }
`)
	if _, err := Translate(tmpl, Options{Target: "local", Inputs: map[string]any{"n": int64(100)}}); err != nil {
		t.Fatalf("100 instances: %v", err)
	}
	_, err := Translate(tmpl, Options{Target: "local", Inputs: map[string]any{"n": int64(1000000)}})
	if err == nil || !strings.Contains(err.Error(), "at most 100") {
		t.Fatalf("a million instances: %v", err)
	}
}

package tosca2tf

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestScalarUnitsConvertExactly(t *testing.T) {
	cases := []struct {
		kind, text string
		unit       string
		want       int64
	}{
		{tSize, "4 GB", "B", 4_000_000_000},
		{tSize, "4 GiB", "B", 4 << 30},
		{tSize, "1.5 GB", "B", 1_500_000_000},
		{tSize, "10 MB", "B", 10_000_000},
		{tSize, "10 mb", "B", 10_000_000}, // units are case-insensitive
		{tSize, "4 GB", "MiB", 3815},      // rounded up: never less than asked
		{tSize, "4 GiB", "MiB", 4096},
		{tSize, "20 GB", "GiB", 19},
		{tSize, "1 TiB", "GiB", 1024},
		{tSize, "0.5 KiB", "B", 512},
		{tTime, "1.5 h", "s", 5400},
		{tTime, "250 ms", "ms", 250},
		{tFrequency, "2.4 GHz", "MHz", 2400},
		{tBitrate, "1 Gibps", "bps", 1 << 30},
	}
	for _, tc := range cases {
		s, err := parseScalar(tc.kind, tc.text)
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		if got := s.In(tc.kind, tc.unit); got != tc.want {
			t.Errorf("%s in %s: got %d, want %d", tc.text, tc.unit, got, tc.want)
		}
	}
	for _, bad := range []string{"4", "GB", "4 XB", "-1 GB", "4 G B", ""} {
		if _, err := parseScalar(tSize, bad); err == nil {
			t.Errorf("%q parsed as a size", bad)
		}
	}
}

func TestConstraints(t *testing.T) {
	vc := valueChecker{reg: normativeTypes()}
	c := func(op string, raw ...any) *Constraint { return &Constraint{Op: op, Raw: raw} }
	cases := []struct {
		typ   string
		con   *Constraint
		value any
		ok    bool
	}{
		{tInteger, c("equal", int64(3)), int64(3), true},
		{tInteger, c("equal", int64(3)), int64(4), false},
		{tInteger, c("greater_than", int64(1)), int64(1), false},
		{tInteger, c("greater_or_equal", int64(1)), int64(1), true},
		{tInteger, c("less_than", int64(5)), int64(5), false},
		{tInteger, c("less_or_equal", int64(5)), int64(5), true},
		{tInteger, c("in_range", int64(1), int64(4)), int64(4), true},
		{tInteger, c("in_range", int64(1), int64(4)), int64(5), false},
		{tInteger, c("valid_values", int64(1), int64(2), int64(4)), int64(3), false},
		{tSize, c("valid_values", "2 GB", "4 GB"), "4000 MB", true}, // equal quantities in other units
		{tSize, c("greater_or_equal", "512 MB"), "0.5 GB", false},   // 500 MB: decimal units are exact
		{tSize, c("greater_or_equal", "512 MB"), "0.5 GiB", true},
		{tSize, c("less_or_equal", "64 GiB"), "65 GiB", false},
		{tVersion, c("valid_values", "16.04", "7"), 16.04, true}, // YAML reads 16.04 as a float
		{tVersion, c("greater_or_equal", "1.10"), "1.9", false},
		{tString, c("length", int64(3)), "abc", true},
		{tString, c("min_length", int64(2)), "a", false},
		{tString, c("max_length", int64(2)), "abc", false},
		{tList, c("max_length", int64(1)), []any{"a", "b"}, false},
		{tRange, c("in_range", int64(1), int64(65535)), []any{int64(80), int64(8080)}, true}, // each bound
		{tRange, c("in_range", int64(1), int64(65535)), []any{int64(0), int64(80)}, false},
		{tRange, c("in_range", int64(1), int64(65535)), []any{int64(22), "UNBOUNDED"}, true},
	}
	for i, tc := range cases {
		_, err := vc.check(tc.value, &Schema{Type: tc.typ, Constraints: []*Constraint{tc.con}}, "x")
		if (err == nil) != tc.ok {
			t.Errorf("case %d %s %v on %v: err=%v, want ok=%v", i, tc.con.Op, tc.con.Raw, tc.value, err, tc.ok)
		}
	}
}

func TestParseConstraintsAndPattern(t *testing.T) {
	tmpl := `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    name:
      type: string
      default: web-1
      constraints:
        - pattern: "[a-z]+-[0-9]+"
  node_templates:
    vm: { type: tosca.nodes.Compute }
`
	parsed := mustParse(t, tmpl)
	if _, err := CheckInputs(parsed, map[string]any{"name": "web-12"}); err != nil {
		t.Fatalf("valid value refused: %v", err)
	}
	_, err := CheckInputs(parsed, map[string]any{"name": "web-12; rm -rf /"})
	if err == nil || !strings.Contains(err.Error(), "does not match the pattern") {
		t.Fatalf("pattern must match the whole value: %v", err)
	}
	errs := err.(Errors)
	if errs[0].Field != "inputs.name" {
		t.Fatalf("field: %q", errs[0].Field)
	}
}

func TestCheckInputs_NamesEveryBadInput(t *testing.T) {
	tmpl := mustParse(t, `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    cpus: { type: integer, constraints: [ { in_range: [1, 8] } ] }
    mem: { type: scalar-unit.size, default: 2 GB }
    flag: { type: boolean, default: false }
  node_templates:
    vm: { type: tosca.nodes.Compute }
`)
	_, err := CheckInputs(tmpl, map[string]any{"cpus": int64(99), "mem": "lots", "flag": map[string]any{}, "typo": 1})
	errs, ok := err.(Errors)
	if !ok || len(errs) != 4 {
		t.Fatalf("want 4 errors, got %v", err)
	}
	fields := map[string]bool{}
	for _, e := range errs {
		fields[e.Field] = true
	}
	for _, f := range []string{"inputs.cpus", "inputs.mem", "inputs.flag", "inputs.typo"} {
		if !fields[f] {
			t.Errorf("no error for %s: %v", f, errs)
		}
	}
	// Required without default.
	_, err = CheckInputs(tmpl, map[string]any{})
	if err == nil || err.(Errors)[0].Field != "inputs.cpus" {
		t.Fatalf("missing required input: %v", err)
	}
	// Strings that are numbers or booleans are accepted (CLI and curl users send them).
	got, err := CheckInputs(tmpl, map[string]any{"cpus": "4", "flag": "true"})
	if err != nil || got["cpus"] != int64(4) || got["flag"] != true {
		t.Fatalf("coercion: %v %v", got, err)
	}
}

// Production templates write constraints as a mapping and use the normative
// short names (PortSpec, PortDef): both are read, the first with a warning.
func TestParse_ConstraintsMapAndShortNames(t *testing.T) {
	tmpl := mustParse(t, `tosca_definitions_version: tosca_simple_yaml_1_3
data_types:
  example.Ports:
    derived_from: tosca.datatypes.Root
    properties:
      web: { type: PortSpec }
      admin: { type: tosca:PortDef }
topology_template:
  inputs:
    flavor:
      type: string
      default: small
      constraints:
        valid_values: [ small, large ]
    ports:
      type: example.Ports
      default: { web: { protocol: tcp, source: 80 }, admin: 8443 }
  node_templates:
    vm: { type: Compute }
`)
	if len(tmpl.Warnings) != 1 || tmpl.Warnings[0].Pos.Line != 14 || !strings.Contains(tmpl.Warnings[0].Message, "constraints should be a list") {
		t.Fatalf("warnings: %v", tmpl.Warnings)
	}
	if _, err := CheckInputs(tmpl, map[string]any{"flavor": "huge"}); err == nil || !strings.Contains(err.Error(), "not one of") {
		t.Fatalf("the map constraint must apply: %v", err)
	}
	if _, err := CheckInputs(tmpl, map[string]any{"ports": map[string]any{"admin": int64(70000)}}); err == nil {
		t.Fatalf("PortDef's range must apply")
	}
	for kind, name := range map[TypeKind]string{DataType: "PortSpec", NodeType: "Network", CapabilityType: "Linkable"} {
		if tmpl.Types.Lookup(kind, name) == nil {
			t.Errorf("short name %s does not resolve", name)
		}
	}
}

// YAML reads "version: 18.0" as a number; where a string is expected the author
// meant the text they wrote.
func TestTranslate_NumbersWrittenAsStringsKeepTheirText(t *testing.T) {
	tmpl := mustParse(t, `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    release: { type: string, default: 20.10 }
  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities:
        os: { properties: { distribution: fedora, version: 18.0 } }
`)
	if v := tmpl.Input("release").Default; v != "20.10" {
		t.Errorf("input default = %v", v)
	}
	res, err := Translate(tmpl, Options{Target: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.Main), `"version": "18.0"`) {
		t.Errorf("os version lost its text:\n%s", res.Main)
	}
}

// Disk and volume sizes count in the cloud's GB: never less than asked, and
// "20 GB" is 20, not 19.
func TestScalarUnit_CloudGB(t *testing.T) {
	for in, want := range map[string]int64{
		"20 GB": 20, "20 GiB": 20, "500 MB": 1, "1 TB": 1000, "1 TiB": 1024, "1.5 GB": 2, "10240 MiB": 10,
		"20000000000 B": 19, "1 kB": 1, "0 MB": 0,
	} {
		sc, err := parseScalar(tSize, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := sc.CloudGB(); got != want {
			t.Errorf("%s: %d GB, want %d", in, got, want)
		}
	}
}

// An output that needs a value that will not exist is null with a warning: a
// null never renders as "<nil>" inside a URL, and nothing fails in Terraform.
func TestTranslate_AbsentValuesMakeNullOutputs(t *testing.T) {
	tmpl := mustParse(t, `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  inputs:
    domain: { type: string, required: false }
    names: { type: list, entry_schema: { type: string }, default: [] }
  node_templates:
    vm: { type: tosca.nodes.Compute }
  outputs:
    url: { value: { concat: [ "https://", { get_input: domain }, "/" ] } }
    first: { value: { get_input: [ names, 0 ] } }
    public: { value: { concat: [ "ssh ", { get_attribute: [ vm, public_address ] } ] } }
    private: { value: { concat: [ "ssh ", { get_attribute: [ vm, private_address ] } ] } }
`)
	res, err := Translate(tmpl, Options{Target: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.Main), "<nil>") {
		t.Fatalf("a null rendered as <nil>:\n%s", res.Main)
	}
	var root struct {
		Output map[string]map[string]any `json:"output"`
	}
	json.Unmarshal(res.Main, &root)
	for name, line := range map[string]int{"url": 9, "first": 10, "public": 11} {
		if v, ok := root.Output[name]["value"]; !ok || v != nil {
			t.Errorf("output %s = %v, want null", name, v)
		}
		found := false
		for _, w := range res.Warnings {
			found = found || (w.Pos.Line == line && strings.Contains(w.Message, "output \""+name+"\"") && strings.Contains(w.Message, "it will be null"))
		}
		if !found {
			t.Errorf("no warning for output %s at line %d: %v", name, line, res.Warnings)
		}
	}
	if v := root.Output["private"]["value"]; v != `${join("", ["ssh ", module.vm[0].private_address])}` {
		t.Errorf("private = %v", v)
	}
}

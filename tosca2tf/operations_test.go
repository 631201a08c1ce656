package tosca2tf

import (
	"context"
	"errors"
	"strings"
	"testing"
)

const indigoStyle = `tosca_definitions_version: tosca_simple_yaml_1_0
node_types:
  example.nodes.Docker:
    derived_from: tosca.nodes.SoftwareComponent
    properties:
      version: {type: string, default: "24.0"}
    artifacts:
      docker_role:
        file: indigo-dc.docker,v2.1.3
        type: tosca.artifacts.AnsibleGalaxy.role
    interfaces:
      Standard:
        create:
          implementation: https://example.org/artifacts/docker/docker_install.yml
          inputs:
            docker_version: {get_property: [SELF, version]}
            host_ip: {get_attribute: [HOST, private_address, 0]}
  example.nodes.Compose:
    derived_from: tosca.nodes.SoftwareComponent
    properties:
      project: {type: string}
    interfaces:
      Standard:
        inputs:
          shared: from-the-interface
        configure:
          implementation:
            primary: scripts/compose.sh
            dependencies: [scripts/lib.sh]
        start: https://example.org/artifacts/docker/compose_start.yml
topology_template:
  inputs:
    project: {type: string, default: web}
    db_password: {type: string, default: hunter2-long}
  node_templates:
    app:
      type: example.nodes.Compose
      properties:
        project: {concat: [{get_input: project}, "-", {get_attribute: [vm, private_address]}]}
      requirements:
        - host: docker
      interfaces:
        Standard:
          start:
            inputs:
              password: {get_input: db_password}
              peer: {get_attribute: [db_vm, public_address]}
    docker:
      type: example.nodes.Docker
      requirements:
        - host: vm
    vm:
      type: tosca.nodes.Compute
    db_vm:
      type: tosca.nodes.Compute
      capabilities:
        scalable:
          properties: {count: 2}
`

func parseString(t *testing.T, s string) *Template {
	t.Helper()
	tmpl, err := Parse(context.Background(), Source{Name: "t.yaml", Content: []byte(s)}, &Resolver{})
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func TestConfiguration_MergesTypesAndTemplateInDependencyOrder(t *testing.T) {
	tmpl := parseString(t, indigoStyle)
	nodes := tmpl.Configuration()
	if len(nodes) != 2 || nodes[0].Name != "docker" || nodes[1].Name != "app" {
		t.Fatalf("want docker then app, got %v", nodes)
	}
	docker, app := nodes[0], nodes[1]
	if docker.Host != "vm" || app.Host != "vm" || len(app.DependsOn) != 1 || app.DependsOn[0] != "docker" {
		t.Fatalf("hosts/dependencies: %+v %+v", docker, app)
	}
	if len(docker.Roles) != 1 || docker.Roles[0] != "indigo-dc.docker,v2.1.3" {
		t.Fatalf("roles: %v", docker.Roles)
	}
	steps := app.Steps(CreateOperations)
	if len(steps) != 2 || steps[0].Key() != "Standard.configure" || steps[1].Key() != "Standard.start" {
		t.Fatalf("app steps: %v", steps)
	}
	if steps[0].Kind() != "script" || steps[0].Dependencies[0] != "scripts/lib.sh" || steps[1].Kind() != "ansible" {
		t.Fatalf("kinds: %+v %+v", steps[0], steps[1])
	}
	if _, ok := steps[1].Inputs["shared"]; !ok || steps[1].Inputs["password"] == nil {
		t.Fatalf("start inputs (interface-level and the template's): %v", steps[1].InputNames)
	}
	if steps[1].Pos.Line == 0 {
		t.Fatal("operations must carry their line")
	}

	rt := &Runtime{T: tmpl, Inputs: map[string]any{"project": "web", "db_password": "hunter2-long"},
		Instances: map[string][]map[string]any{
			"vm":    {{"private_address": "10.0.0.5", "cloud_id": "srv-1"}},
			"db_vm": {{"public_address": "203.0.113.1"}, {"public_address": "203.0.113.2"}},
		}}
	in, err := rt.OperationInputs("docker", 0, docker.Steps(CreateOperations)[0])
	if err != nil || in["docker_version"] != "24.0" || in["host_ip"] != "10.0.0.5" {
		t.Fatalf("docker create inputs: %v %v", in, err)
	}
	in, err = rt.OperationInputs("app", 0, steps[1])
	if err != nil {
		t.Fatal(err)
	}
	peers, _ := in["peer"].([]any)
	if in["password"] != "hunter2-long" || in["shared"] != "from-the-interface" || len(peers) != 2 || peers[1] != "203.0.113.2" {
		t.Fatalf("app start inputs: %v", in)
	}
	if len(rt.Sensitive) == 0 || rt.Sensitive[0] != "hunter2-long" {
		t.Fatalf("the password input was not collected as sensitive: %v", rt.Sensitive)
	}
	// [SELF, requirement, property]: the requirement's target's property.
	viaReq := &Call{Func: "get_property", Args: []Expr{&Lit{Value: "SELF"}, &Lit{Value: "host"}, &Lit{Value: "version"}}}
	if v, err := rt.Eval("app", 0, viaReq); err != nil || v != "24.0" {
		t.Fatalf("get_property through a requirement: %v %v", v, err)
	}
	v, err := rt.Eval("app", 0, tmpl.Node("app").Properties["project"])
	if err != nil || v != "web-10.0.0.5" {
		t.Fatalf("concat with an attribute: %v %v", v, err)
	}
	// An attribute that does not exist is an error naming it.
	bad := &Operation{Inputs: map[string]Expr{"x": &Call{Func: "get_attribute", Args: []Expr{&Lit{Value: "HOST"}, &Lit{Value: "nope"}}}}, InputNames: []string{"x"}}
	if _, err := rt.OperationInputs("docker", 0, bad); err == nil || !strings.Contains(err.Error(), `no attribute "nope"`) {
		t.Fatalf("unknown attribute: %v", err)
	}
}

func TestCheckConfiguration_NamesNodeOperationAndLine(t *testing.T) {
	tmpl := parseString(t, indigoStyle)
	errs := tmpl.CheckConfiguration(func(ref string, role bool) error {
		if strings.Contains(ref, "compose_start") || role {
			return errors.New("not found")
		}
		return nil
	})
	if len(errs) != 2 {
		t.Fatalf("want 2 problems, got %v", errs)
	}
	var start, role *Error
	for _, e := range errs {
		if strings.Contains(e.Message, "Standard.start") {
			start = e
		}
		if strings.Contains(e.Message, "Galaxy role") {
			role = e
		}
	}
	if start == nil || !strings.Contains(start.Message, `node "app"`) || start.Pos.Line != 30 {
		t.Fatalf("start problem: %+v", start)
	}
	if role == nil || !strings.Contains(role.Message, `node "docker"`) {
		t.Fatalf("role problem: %+v", role)
	}
}

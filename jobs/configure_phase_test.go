package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"

	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// On the simulated local target, software nodes are checked (implementations
// resolved, playbooks syntax-checked when Ansible is here) and marked simulated,
// never configured; nothing connects anywhere.
func TestLocalTargetSimulatesConfiguration(t *testing.T) {
	h := newHarness(t, harnessOpt{start: true})
	d := h.submit(example(t, "web-page"), map[string]any{"port": 8080})
	h.wait(d.ID, store.CreateComplete)
	page := h.resources(d.ID)["page[0]"]
	if page == nil || page.State != store.ResInitial || page.Attributes["simulated"] != true || page.Attributes["configured"] != false {
		t.Fatalf("page resource: %+v", page)
	}
	checked, _ := page.Attributes["operations_checked"].([]any)
	if len(checked) != 2 { // create and start (stop runs before a delete)
		t.Fatalf("operations checked: %v", page.Attributes["operations_checked"])
	}
	logs := h.logs(d.ID)
	for _, want := range []string{"simulated: Standard.create on server-0: playbook", "syntax checked", "not run: the local target is simulated"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "waiting for SSH") {
		t.Fatalf("the local target tried to connect:\n%s", logs)
	}
}

// A template whose implementation cannot be found is refused before anything
// runs, naming the node, the operation and the line.
func TestUnresolvableImplementationIsRefusedAtSubmission(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	tmpl := strings.Replace(example(t, "web-page"), "examples/web-page/artifacts/start.yml", "examples/web-page/artifacts/missing.yml", 1)
	d := &store.Deployment{ID: store.NewID(), Template: tmpl, Target: "local", Inputs: []byte(`{}`), Owners: []string{h.user.ID}}
	_, err := h.engine.Translate(context.Background(), d)
	var errs tosca2tf.Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("want one template error, got %v", err)
	}
	e := errs[0]
	if !strings.Contains(e.Message, `node "page" operation Standard.start`) || !strings.Contains(e.Message, "missing.yml") || e.Pos.Line != 34 {
		t.Fatalf("error: %s (line %d)", e.Message, e.Pos.Line)
	}
}

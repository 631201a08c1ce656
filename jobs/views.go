package jobs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/terraform-exec/tfexec"

	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// scratch prepares a throwaway copy of a deployment's configuration and newest
// state, so that views (show, plan) never touch the workdir a run may be using.
func (e *Engine) scratch(ctx context.Context, d *store.Deployment, res *tosca2tf.Result, env map[string]string) (*workdir, func(), error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	dir := filepath.Join(e.cfg.DataDir, "scratch", d.ID+"-"+hex.EncodeToString(b[:]))
	// Whatever a view started (a provider Terraform left behind) goes with it.
	cleanup := func() { killProcessesUnder(dir); os.RemoveAll(dir) }
	w, err := e.writeConfig(dir, res, env)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	if st, err := e.store.States.Latest(ctx, d.ID); err == nil {
		if err := os.WriteFile(filepath.Join(dir, "terraform.tfstate"), st.State, 0o600); err != nil {
			cleanup()
			return nil, nil, err
		}
	} else if !store.IsNotFound(err) {
		cleanup()
		return nil, nil, err
	}
	if err := w.tf.Init(ctx, tfexec.Upgrade(false)); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("terraform init: %w", err)
	}
	return w, cleanup, nil
}

// inScratch renders a deployment and runs fn in a scratch copy of its workdir.
func (e *Engine) inScratch(ctx context.Context, d *store.Deployment, fn func(*workdir) error) error {
	res, env, err := e.Render(ctx, d)
	if err != nil {
		return err
	}
	w, cleanup, err := e.scratch(ctx, d, res, env)
	if err != nil {
		return err
	}
	defer cleanup()
	return fn(w)
}

// redacted replaces sensitive values in `terraform show -json` output.
const redacted = "(sensitive)"

// ShowState returns the `terraform show -json` view of a deployment's newest
// state, with every sensitive value redacted.
func (e *Engine) ShowState(ctx context.Context, d *store.Deployment) (json.RawMessage, error) {
	if _, err := e.store.States.Latest(ctx, d.ID); store.IsNotFound(err) {
		return json.RawMessage(`{"format_version":"1.0","values":null}`), nil
	}
	var out bytes.Buffer
	err := e.inScratch(ctx, d, func(w *workdir) error {
		w.tf.SetStdout(&out)
		defer w.tf.SetStdout(nil)
		if _, err := w.tf.ShowStateFile(ctx, filepath.Join(w.dir, "terraform.tfstate")); err != nil {
			return fmt.Errorf("terraform show: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		return nil, fmt.Errorf("terraform show output: %w", err)
	}
	redactState(doc)
	return json.Marshal(doc)
}

// redactState walks a `terraform show -json` document and replaces every value its
// sensitive_values marks, and every sensitive output.
func redactState(doc map[string]any) {
	values, _ := doc["values"].(map[string]any)
	if values == nil {
		return
	}
	if outs, ok := values["outputs"].(map[string]any); ok {
		for _, o := range outs {
			if om, ok := o.(map[string]any); ok && om["sensitive"] == true {
				om["value"] = redacted
			}
		}
	}
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		for _, r := range asList(m["resources"]) {
			rm, _ := r.(map[string]any)
			if rm == nil {
				continue
			}
			rm["values"] = redactValue(rm["values"], rm["sensitive_values"])
		}
		for _, c := range asList(m["child_modules"]) {
			if cm, ok := c.(map[string]any); ok {
				walk(cm)
			}
		}
	}
	if root, ok := values["root_module"].(map[string]any); ok {
		walk(root)
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// redactValue replaces the parts of v that the parallel structure mask marks true.
func redactValue(v, mask any) any {
	switch m := mask.(type) {
	case bool:
		if m {
			return redacted
		}
	case map[string]any:
		if vm, ok := v.(map[string]any); ok {
			for k, sub := range m {
				if _, present := vm[k]; present {
					vm[k] = redactValue(vm[k], sub)
				}
			}
		}
	case []any:
		if vl, ok := v.([]any); ok {
			for i := range vl {
				if i < len(m) {
					vl[i] = redactValue(vl[i], m[i])
				}
			}
		}
	}
	return v
}

// PlanSummary is a preview of what an update would change.
type PlanSummary struct {
	Add     int            `json:"add"`
	Change  int            `json:"change"`
	Remove  int            `json:"remove"`
	Changes []PlanedChange `json:"changes"`
}

// PlanedChange is one resource an update would touch.
type PlanedChange struct {
	Address string `json:"address"`
	Action  string `json:"action"`
}

// Plan previews the update of a deployment to d (its new template and inputs)
// without changing anything: a plan in a scratch copy of the workdir. With
// redeploy, every managed resource is planned for replacement, as the redeploy
// run will do.
func (e *Engine) Plan(ctx context.Context, d *store.Deployment, redeploy bool) (*PlanSummary, error) {
	var out bytes.Buffer
	err := e.inScratch(ctx, d, func(w *workdir) error {
		opts := []tfexec.PlanOption{tfexec.Lock(false)}
		if redeploy {
			addrs, err := w.managedAddresses(ctx)
			if err != nil {
				return err
			}
			for _, a := range addrs {
				opts = append(opts, tfexec.Replace(a))
			}
		}
		defer w.tf.SetStdout(nil)
		if _, err := w.tf.PlanJSON(ctx, &out, opts...); err != nil {
			return fmt.Errorf("terraform plan: %s", planError(out.Bytes(), err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sum := &PlanSummary{Changes: []PlanedChange{}}
	for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
		var m tfMessage
		if json.Unmarshal(line, &m) != nil || m.Type != "planned_change" {
			continue
		}
		sum.Changes = append(sum.Changes, PlanedChange{Address: m.Change.Resource.Addr, Action: m.Change.Action})
		switch m.Change.Action {
		case "create":
			sum.Add++
		case "update":
			sum.Change++
		case "delete":
			sum.Remove++
		case "replace":
			sum.Add++
			sum.Remove++
		}
	}
	sort.Slice(sum.Changes, func(i, j int) bool { return sum.Changes[i].Address < sum.Changes[j].Address })
	return sum, nil
}

func planError(out []byte, err error) string {
	var msgs []string
	for _, line := range bytes.Split(out, []byte("\n")) {
		var m tfMessage
		if json.Unmarshal(line, &m) == nil && m.Diagnostic.Severity == "error" {
			msgs = append(msgs, m.Diagnostic.Summary+": "+m.Diagnostic.Detail)
		}
	}
	if len(msgs) > 0 {
		return fmt.Sprint(msgs)
	}
	return err.Error()
}

// Translate renders a deployment's Terraform as a run would, without the target's
// credentials (the server validates submissions with it).
func (e *Engine) Translate(ctx context.Context, d *store.Deployment) (*tosca2tf.Result, error) {
	res, _, err := e.Render(ctx, d)
	if err != nil {
		return nil, err
	}
	if err := e.checkConfiguration(ctx, d); err != nil {
		return nil, err
	}
	return res, nil
}

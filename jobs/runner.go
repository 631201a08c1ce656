package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// execute runs one claimed run to its end and records the result.
func (e *Engine) execute(run *store.Run) {
	start := time.Now()
	runCtx, cancel := context.WithTimeout(context.Background(), e.cfg.RunTimeout)
	defer cancel()
	runCtx, interrupt := context.WithCancel(runCtx)
	e.mu.Lock()
	e.active[run.ID] = interrupt
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.active, run.ID)
		e.mu.Unlock()
	}()
	unlock := e.lock(run.DeploymentID)
	defer unlock()
	// One Terraform process at a time per run (init, apply, show are sequential).
	e.metrics.TerraformProcesses(1)
	defer e.metrics.TerraformProcesses(-1)

	// Bookkeeping outlives an interrupted run: it must record how the run ended.
	bg, bgCancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer bgCancel()
	logs := newLogWriter(e.store, run.DeploymentID, run.ID, e.log)
	stopBeat := e.heartbeat(bg, run, interrupt)
	result := e.perform(runCtx, bg, run, logs)
	stopBeat()
	if runCtx.Err() != nil && result.Status == store.RunFailed {
		if cancelled, _ := e.store.Runs.Get(bg, run.ID); cancelled != nil && cancelled.CancelRequested {
			result.Status, result.Error = store.RunCancelled, "cancelled: "+result.Error
		} else if e.stopped.Load() {
			result.Error = "the service stopped during the run: " + result.Error
		}
	}
	level, verb := store.LevelInfo, "succeeded"
	if result.Status != store.RunSucceeded {
		level, verb = store.LevelError, string(result.Status)
	}
	logs.add(level, store.SourceOrchestrator, "", fmt.Sprintf("%s run %s %s in %s", run.Kind, run.ID, verb, time.Since(start).Round(time.Millisecond)))
	logs.Close()
	if err := e.store.Runs.Finish(bg, run.ID, result); err != nil {
		e.log.Error("finish run", "run", run.ID, "error", err.Error())
	}
	e.metrics.RunFinished(run.Kind, result.Status, time.Since(start))
}

// heartbeat records liveness until stopped, and interrupts the run when a cancel
// was requested through the store (by this or another process).
func (e *Engine) heartbeat(ctx context.Context, run *store.Run, interrupt context.CancelFunc) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(e.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				cancel, err := e.store.Runs.Heartbeat(ctx, run.ID)
				if err != nil && store.ErrorCode(err) != store.EConflict {
					e.log.Error("heartbeat", "run", run.ID, "error", err.Error())
				}
				if cancel {
					interrupt()
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// perform does the run's work; bg is for bookkeeping that must happen even when
// ctx was interrupted.
func (e *Engine) perform(ctx, bg context.Context, run *store.Run, logs *logWriter) store.Result {
	fail := func(msg string) store.Result {
		logs.add(store.LevelError, store.SourceOrchestrator, "", msg)
		return store.Result{Status: store.RunFailed, Error: msg}
	}
	d, err := e.store.Deployments.Get(bg, run.DeploymentID)
	if err != nil {
		return fail("load deployment: " + err.Error())
	}
	logs.add(store.LevelInfo, store.SourceOrchestrator, "", fmt.Sprintf("%s run %s started on %s (target %s)", run.Kind, run.ID, run.Worker, d.Target))
	if run.Kind == store.RunAction {
		return e.action(ctx, bg, run, d, logs)
	}
	res, env, err := e.Render(bg, d)
	if err != nil {
		return fail("translate the template: " + err.Error())
	}
	if err := e.allocateHosts(bg, d, res, run.Kind); err != nil {
		return fail(err.Error())
	}
	for _, w := range res.Warnings {
		logs.add(store.LevelWarn, store.SourceTranslator, "", w.Error())
	}
	if err := e.store.Deployments.SetGenerated(bg, d.ID, string(res.Main), string(res.Vars)); err != nil {
		return fail(err.Error())
	}
	w, err := e.open(bg, d, res, env, logs)
	if err != nil {
		return fail(err.Error())
	}
	prev := e.markResources(bg, d, res, run.Kind)

	var runErr error
	switch run.Kind {
	case store.RunCreate, store.RunUpdate:
		runErr = w.apply(ctx, logs)
	case store.RunRedeploy:
		var addrs []string
		if addrs, runErr = w.managedAddresses(ctx); runErr == nil {
			logs.add(store.LevelInfo, store.SourceOrchestrator, "", fmt.Sprintf("redeploy: replacing %d resources", len(addrs)))
			opts := make([]tfexec.ApplyOption, 0, len(addrs))
			for _, a := range addrs {
				opts = append(opts, tfexec.Replace(a))
			}
			runErr = w.apply(ctx, logs, opts...)
		}
	case store.RunDelete:
		e.unconfigureBeforeDestroy(ctx, bg, run, d, res, logs)
		runErr = w.destroy(ctx, logs)
	default:
		runErr = fmt.Errorf("unknown run kind %q", run.Kind)
	}
	result := e.conclude(bg, run, d, res, w, prev, logs, runErr)
	return e.afterApply(ctx, bg, run, d, res, logs, result)
}

// conclude saves the state, rebuilds resources and outputs, and says how the run ended.
func (e *Engine) conclude(bg context.Context, run *store.Run, d *store.Deployment, res *tosca2tf.Result, w *workdir,
	prev []*store.Resource, logs *logWriter, runErr error) store.Result {
	if err := e.saveState(bg, w, d.ID, run.ID, logs); err != nil {
		logs.add(store.LevelError, store.SourceOrchestrator, "", "save state: "+err.Error())
	}
	outputs, err := e.syncResources(bg, d, res, w, prev, run.Kind, runErr != nil)
	if err != nil {
		logs.add(store.LevelWarn, store.SourceOrchestrator, "", "read resources from the state: "+err.Error())
	}
	if err := e.store.Configured.Restore(bg, d.ID); err != nil {
		logs.add(store.LevelWarn, store.SourceOrchestrator, "", "show the software configuration state: "+err.Error())
	}
	result := store.Result{Status: store.RunSucceeded, Outputs: outputs}
	if runErr != nil {
		result.Status, result.Error = store.RunFailed, failureReason(runErr, logs)
	}
	return result
}

// failureReason is the error a user reads in status_reason: Terraform's error
// diagnostics when there are any, else the command's error.
func failureReason(err error, logs *logWriter) string {
	if len(logs.errors) > 0 {
		return strings.Join(logs.errors, "; ")
	}
	var ctxErr error
	if errors.Is(err, context.DeadlineExceeded) {
		ctxErr = errors.New("the run took longer than its time limit")
	} else if errors.Is(err, context.Canceled) {
		ctxErr = errors.New("the run was interrupted")
	}
	if ctxErr != nil {
		return ctxErr.Error()
	}
	msg := strings.TrimSpace(err.Error())
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	return msg
}

// action starts, stops or reboots one Compute instance: its power_state changes
// and only that module instance is applied (-target). Reboot is a stop then a
// start: neither target has a native reboot through Terraform.
func (e *Engine) action(ctx, bg context.Context, run *store.Run, d *store.Deployment, logs *logWriter) store.Result {
	p := run.Params
	if p.Action == ActionReconfigure {
		return e.reconfigure(ctx, bg, run, d, logs)
	}
	steps := map[string][]string{"start": {"started"}, "stop": {"stopped"}, "reboot": {"stopped", "started"}}[p.Action]
	if steps == nil {
		return store.Result{Status: store.RunFailed, Error: fmt.Sprintf("unknown action %q", p.Action)}
	}
	var runErr error
	var res *tosca2tf.Result
	var w *workdir
	prev, _ := e.store.Resources.List(bg, d.ID)
	for _, power := range steps {
		if d.PowerStates[p.Node] == nil {
			d.PowerStates[p.Node] = map[string]string{}
		}
		d.PowerStates[p.Node][fmt.Sprint(p.Instance)] = power
		if err := e.store.Deployments.SetPowerStates(bg, d.ID, d.PowerStates); err != nil {
			return store.Result{Status: store.RunFailed, Error: err.Error()}
		}
		state := map[string]store.ResourceState{"stopped": store.ResStopping, "started": store.ResStarting}[power]
		if p.ResourceID != "" {
			_ = e.store.Resources.SetState(bg, d.ID, state, p.ResourceID)
		}
		var env map[string]string
		var err error
		if res, env, err = e.Render(bg, d); err != nil {
			return store.Result{Status: store.RunFailed, Error: "translate the template: " + err.Error()}
		}
		if err := e.store.Deployments.SetGenerated(bg, d.ID, string(res.Main), string(res.Vars)); err != nil {
			return store.Result{Status: store.RunFailed, Error: err.Error()}
		}
		if w, err = e.open(bg, d, res, env, logs); err != nil {
			return store.Result{Status: store.RunFailed, Error: err.Error()}
		}
		addr := ""
		for _, n := range res.Nodes {
			if n.Name == p.Node && n.Kind == "compute" {
				addr = fmt.Sprintf("%s[%d]", n.Module, p.Instance)
			}
		}
		if addr == "" {
			runErr = fmt.Errorf("node %q is not a Compute of this deployment", p.Node)
			break
		}
		logs.add(store.LevelInfo, store.SourceOrchestrator, addr, fmt.Sprintf("%s: setting power state of %s to %s", p.Action, addr, power))
		if runErr = w.apply(ctx, logs, tfexec.Target(addr)); runErr != nil {
			break
		}
	}
	if w != nil && runErr == nil {
		// A targeted apply leaves root outputs stale; a refresh-only apply
		// recomputes them (orc_resources, TOSCA outputs) without touching resources.
		runErr = w.tf.ApplyJSON(ctx, io.Discard, tfexec.RefreshOnly(true))
		w.tf.SetStdout(nil) // terraform-exec keeps the writer for later commands
	}
	if w == nil {
		return store.Result{Status: store.RunFailed, Error: failureReason(runErr, logs)}
	}
	result := e.conclude(bg, run, d, res, w, prev, logs, runErr)
	if runErr != nil && p.ResourceID != "" {
		_ = e.store.Resources.SetState(bg, d.ID, store.ResError, p.ResourceID)
	}
	return result
}

// Render translates a deployment's template for its target, with the owners' ssh
// keys and the instances' power states, and returns the environment Terraform
// needs (the target's credentials).
func (e *Engine) Render(ctx context.Context, d *store.Deployment) (*tosca2tf.Result, map[string]string, error) {
	target, err := e.store.Targets.Get(ctx, d.Target)
	if err != nil {
		return nil, nil, err
	}
	creds, err := e.store.Targets.Credentials(ctx, d.Target)
	if err != nil {
		return nil, nil, err
	}
	cfg := map[string]any{}
	if len(target.Config) > 0 {
		if err := json.Unmarshal(target.Config, &cfg); err != nil {
			return nil, nil, fmt.Errorf("target %s config: %w", d.Target, err)
		}
	}
	keys := []string{}
	for _, owner := range d.Owners {
		list, err := e.store.SSHKeys.List(ctx, owner)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range list {
			keys = append(keys, k.PublicKey)
		}
	}
	sort.Strings(keys)
	tmpl, err := tosca2tf.Parse(ctx, tosca2tf.Source{Name: "template.yaml", Content: []byte(d.Template)}, e.cfg.Resolver)
	if err != nil {
		return nil, nil, err
	}
	inputs, err := DecodeInputs(d.Inputs)
	if err != nil {
		return nil, nil, err
	}
	if target.Kind != "local" { // the service's own key, for the configure phase
		if pub, err := e.deploymentPublicKey(ctx, d); err != nil {
			return nil, nil, err
		} else if pub != "" {
			keys = append(keys, pub)
		}
	}
	res, err := tosca2tf.Translate(tmpl, tosca2tf.Options{Target: target.Kind, Inputs: inputs, DeploymentID: d.ID,
		TargetConfig: cfg, SSHPublicKeys: keys, PowerStates: d.PowerStates})
	if err != nil {
		return nil, nil, err
	}
	if err := e.placeHosts(ctx, d, target, res, true); err != nil {
		return nil, nil, err
	}
	env := map[string]string{}
	for k, v := range creds {
		env[k] = v
	}
	return res, env, nil
}

// DecodeInputs reads stored input values, keeping numbers exact.
func DecodeInputs(raw json.RawMessage) (map[string]any, error) {
	inputs := map[string]any{}
	if len(raw) == 0 {
		return inputs, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&inputs); err != nil {
		return nil, fmt.Errorf("stored inputs: %w", err)
	}
	return inputs, nil
}

// saveState stores the workdir's state (terraform state pull) as a new version.
func (e *Engine) saveState(ctx context.Context, w *workdir, deploymentID, runID string, logs *logWriter) error {
	raw, err := w.tf.StatePull(ctx)
	if err != nil {
		return fmt.Errorf("terraform state pull: %w", err)
	}
	return e.storeState(ctx, deploymentID, runID, []byte(raw), logs)
}

// saveWorkdirState stores the state file a workdir holds, without Terraform (for
// runs whose process died).
func (e *Engine) saveWorkdirState(ctx context.Context, deploymentID, runID string) error {
	raw, err := os.ReadFile(filepath.Join(e.workdir(deploymentID), "terraform.tfstate"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return e.storeState(ctx, deploymentID, runID, raw, nil)
}

type stateHeader struct {
	Serial  int64  `json:"serial"`
	Lineage string `json:"lineage"`
}

func (e *Engine) storeState(ctx context.Context, deploymentID, runID string, raw []byte, logs *logWriter) error {
	if len(strings.TrimSpace(string(raw))) == 0 {
		return nil // no state yet: nothing was ever applied
	}
	var h stateHeader
	if err := json.Unmarshal(raw, &h); err != nil || h.Lineage == "" {
		return fmt.Errorf("the state is not valid JSON with a lineage")
	}
	added, err := e.store.States.Add(ctx, &store.StateVersion{DeploymentID: deploymentID, RunID: runID, Serial: h.Serial, Lineage: h.Lineage, State: raw})
	if err != nil {
		return err
	}
	if added && logs != nil {
		logs.add(store.LevelInfo, store.SourceOrchestrator, "", fmt.Sprintf("saved state version (serial %d)", h.Serial))
	}
	return nil
}

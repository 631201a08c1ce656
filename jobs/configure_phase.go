package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"orchestrator/examples"
	"orchestrator/jobs/configure"
	"orchestrator/modules"
	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// ConfigureOptions tunes the configure phase: software nodes' lifecycle
// operations run over SSH after Terraform built their hosts.
type ConfigureOptions struct {
	// Resolver finds playbooks, scripts and Galaxy roles.
	Resolver *configure.Resolver
	// Parallel bounds the nodes configured at the same time (default 4).
	Parallel int
	// SSHWait bounds the wait for a host's SSH (default 5 minutes; a hostpool
	// target's ssh_wait_seconds wins).
	SSHWait time.Duration
}

// ConfigurationStatus says whether this service can configure software on
// real targets ("ok"), or why not; /readyz and the start-up log show it.
func ConfigurationStatus() string {
	if err := configure.Available(); err != nil {
		return "unavailable: " + err.Error()
	}
	return "ok"
}

// configurePlan is what one configure phase does.
type configurePlan struct {
	d      *store.Deployment
	target *store.Target
	res    *tosca2tf.Result
	tmpl   *tosca2tf.Template
	nodes  []*tosca2tf.ConfigNode
	ops    []string
	// only limits the phase to these nodes (reconfigure); nil = every node.
	only map[string]bool
	// force runs nodes whose digest did not change (create, redeploy, reconfigure).
	force bool
	// bestEffort logs failures and goes on (delete's stop/delete operations).
	bestEffort bool
}

// configureStep is one operation on one host instance.
type configureStep struct {
	node     *tosca2tf.ConfigNode
	instance int
	op       *tosca2tf.Operation
	inputs   map[string]any
	path     string // the resolved implementation
}

// configureFailure is the first thing that failed, for status_reason.
type configureFailure struct {
	Node, Operation, Host string
	Err                   error
}

func (f *configureFailure) Error() string {
	return fmt.Sprintf("configuration of node %s failed: operation %s on %s: %v", f.Node, f.Operation, f.Host, f.Err)
}

// configureAfterApply runs the software nodes' create, configure and start
// operations after a successful create, update or redeploy. An update runs only
// the nodes whose operations or inputs changed.
func (e *Engine) configureAfterApply(j *job, d *store.Deployment, res *tosca2tf.Result) error {
	return e.configurePhase(j.ctx, context.WithoutCancel(j.ctx), j.run, d, res, j.logs, tosca2tf.CreateOperations, nil, j.run.Kind != store.RunUpdate, false)
}

// unconfigureBeforeDestroy runs the software nodes' stop and delete operations
// before a delete destroys their hosts, best effort.
func (e *Engine) unconfigureBeforeDestroy(j *job, d *store.Deployment, res *tosca2tf.Result) {
	if err := e.configurePhase(j.ctx, context.WithoutCancel(j.ctx), j.run, d, res, j.logs, tosca2tf.DeleteOperations, nil, true, true); err != nil {
		j.logs.add(store.LevelWarn, store.SourceConfiguration, "", "stop/delete operations before destroy: "+err.Error()+" (destroying anyway)")
	}
}

// reconfigure re-runs the create, configure and start operations of one
// software node, or of every software node on a Compute, without touching the
// infrastructure.
func (e *Engine) reconfigure(j *job, d *store.Deployment) store.Result {
	ctx, bg, run, logs := j.ctx, context.WithoutCancel(j.ctx), j.run, j.logs
	res, _, err := e.Render(bg, d)
	if err != nil {
		return store.Result{Status: store.RunFailed, Error: "translate the template: " + err.Error()}
	}
	tmpl, err := tosca2tf.Parse(bg, tosca2tf.Source{Name: "template.yaml", Content: []byte(d.Template)}, e.cfg.Resolver)
	if err != nil {
		return store.Result{Status: store.RunFailed, Error: err.Error()}
	}
	only := map[string]bool{}
	for _, n := range tmpl.Configuration() {
		if n.Name == run.Params.Node || n.Host == run.Params.Node {
			only[n.Name] = true
		}
	}
	if len(only) == 0 {
		return store.Result{Status: store.RunFailed, Error: fmt.Sprintf("node %q has no software to configure", run.Params.Node)}
	}
	logs.add(store.LevelInfo, store.SourceOrchestrator, run.Params.Node, fmt.Sprintf("reconfigure: running the operations of %s", strings.Join(sortedKeys(only), ", ")))
	if err := e.configurePhase(ctx, bg, run, d, res, logs, tosca2tf.CreateOperations, only, true, false); err != nil {
		return e.configureOutcome(j, store.Result{Status: store.RunSucceeded}, err)
	}
	return store.Result{Status: store.RunSucceeded}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// failureText is a configuration error as status_reason shows it.
func failureText(err error) string {
	if errors.Is(err, context.Canceled) {
		return "configuration interrupted: " + err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "configuration took longer than the run's time limit: " + err.Error()
	}
	msg := err.Error()
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	return msg
}

func (e *Engine) configurePhase(ctx, bg context.Context, run *store.Run, d *store.Deployment, res *tosca2tf.Result, logs *logWriter,
	ops []string, only map[string]bool, force, bestEffort bool) error {
	tmpl, err := tosca2tf.Parse(bg, tosca2tf.Source{Name: "template.yaml", Content: []byte(d.Template)}, e.cfg.Resolver)
	if err != nil {
		return fmt.Errorf("parse the template: %w", err)
	}
	target, err := e.store.Targets.Get(bg, d.Target)
	if err != nil {
		return err
	}
	p := &configurePlan{d: d, target: target, res: res, tmpl: tmpl, ops: ops, only: only, force: force, bestEffort: bestEffort}
	for _, n := range tmpl.Configuration() {
		if (only == nil || only[n.Name]) && len(n.Steps(ops)) > 0 {
			p.nodes = append(p.nodes, n)
		}
	}
	if len(p.nodes) == 0 {
		return nil
	}
	if configurationOff(target) {
		logs.add(store.LevelWarn, store.SourceConfiguration, "", fmt.Sprintf(
			"software configuration is off for target %s: %d software node(s) are recorded, their operations are not run", target.Name, len(p.nodes)))
		return nil
	}
	if target.Kind == "local" {
		return e.simulateConfiguration(ctx, bg, p, logs)
	}
	return e.runConfiguration(ctx, bg, run, p, logs)
}

// instances reads the resources' attributes by node and instance, for the
// runtime evaluation of operation inputs.
func (e *Engine) instances(ctx context.Context, deploymentID string) (map[string][]map[string]any, error) {
	list, err := e.store.Resources.List(ctx, deploymentID)
	if err != nil {
		return nil, err
	}
	out := map[string][]map[string]any{}
	for _, r := range list {
		if r.State == store.ResDeleted {
			continue
		}
		for len(out[r.Node]) <= r.Instance {
			out[r.Node] = append(out[r.Node], nil)
		}
		attrs := map[string]any{"cloud_id": r.CloudID}
		for k, v := range r.Attributes {
			attrs[k] = v
		}
		out[r.Node][r.Instance] = attrs
	}
	return out, nil
}

// steps evaluates every operation's inputs for every host instance and
// resolves its implementation; the digest of each node instance says whether
// it changed since it was last configured.
func (e *Engine) steps(ctx context.Context, p *configurePlan, rt *tosca2tf.Runtime) (map[string][]configureStep, map[string]string, error) {
	out := map[string][]configureStep{}
	digests := map[string]string{}
	for _, n := range p.nodes {
		hosts := len(rt.Instances[n.Host])
		for i := 0; i < hosts; i++ {
			h := sha256.New()
			fmt.Fprintf(h, "%s\n%s\n", n.Type, strings.Join(n.Roles, ","))
			for _, op := range n.Steps(p.ops) {
				inputs, err := rt.OperationInputs(n.Name, i, op)
				if err != nil {
					return nil, nil, &configureFailure{Node: n.Name, Operation: op.Key(), Host: configure.Alias(n.Host, i),
						Err: fmt.Errorf("evaluate the inputs (%s): %w", op.Pos, err)}
				}
				path, err := p.resolve(ctx, e, op.Implementation)
				if err != nil {
					return nil, nil, &configureFailure{Node: n.Name, Operation: op.Key(), Host: configure.Alias(n.Host, i), Err: err}
				}
				content, _ := os.ReadFile(path)
				b, _ := json.Marshal(inputs)
				fmt.Fprintf(h, "%s\n%s\n%x\n%s\n", op.Key(), op.Implementation, sha256.Sum256(content), b)
				out[n.Name] = append(out[n.Name], configureStep{node: n, instance: i, op: op, inputs: inputs, path: path})
			}
			digests[fmt.Sprintf("%s/%d", n.Name, i)] = hex.EncodeToString(h.Sum(nil))
		}
	}
	return out, digests, nil
}

// resolve finds an implementation file.
func (p *configurePlan) resolve(ctx context.Context, e *Engine, ref string) (string, error) {
	return e.configureResolver().File(ctx, ref, "")
}

// simulateConfiguration is the local target's configure phase: nothing to
// connect to, so each operation is resolved (and each playbook passes
// ansible-playbook --syntax-check when Ansible is installed) and the node is
// marked simulated, never configured.
func (e *Engine) simulateConfiguration(ctx, bg context.Context, p *configurePlan, logs *logWriter) error {
	insts, err := e.instances(bg, p.d.ID)
	if err != nil {
		return err
	}
	rt := &tosca2tf.Runtime{T: p.tmpl, Inputs: p.res.Inputs, Instances: insts}
	steps, digests, err := e.steps(ctx, p, rt)
	if err != nil {
		return err
	}
	red := configure.NewRedactor(rt.Sensitive...)
	ansible := configure.Available() == nil
	checkDir := filepath.Join(e.cfg.DataDir, "configure", p.d.ID, "check")
	defer os.RemoveAll(checkDir)
	for _, n := range p.nodes {
		checked := map[string]bool{}
		var done []string
		for _, s := range steps[n.Name] {
			what := "script"
			if s.op.Kind() == "ansible" {
				what = "playbook"
				if ansible && !checked[s.path] {
					if err := configure.SyntaxCheck(ctx, checkDir, s.path, ""); err != nil {
						return &configureFailure{Node: n.Name, Operation: s.op.Key(), Host: configure.Alias(n.Host, s.instance), Err: fmt.Errorf("syntax check: %w", err)}
					}
					what += ", syntax checked"
				}
				checked[s.path] = true
			}
			logs.add(store.LevelInfo, store.SourceConfiguration, n.Name, red.Hide(fmt.Sprintf("simulated: %s on %s: %s %s (%s), inputs %s",
				s.op.Key(), configure.Alias(n.Host, s.instance), what, s.op.Implementation, "not run: the local target is simulated", inputNames(s.inputs))))
			done = append(done, s.op.Key())
		}
		for i := 0; i < len(insts[n.Host]); i++ {
			key := fmt.Sprintf("%s/%d", n.Name, i)
			_ = e.store.Configured.Set(bg, p.d.ID, store.ConfiguredNode{Node: n.Name, Instance: i, State: store.ResInitial, Digest: digests[key],
				Attributes: map[string]any{"configured": false, "simulated": true, "operations_checked": uniq(done), "ansible_syntax_checked": ansible}})
		}
	}
	return nil
}

func inputNames(in map[string]any) string {
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names)
	return "[" + strings.Join(names, ", ") + "]"
}

func uniq(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// runConfiguration connects to the hosts and runs the operations.
func (e *Engine) runConfiguration(ctx, bg context.Context, run *store.Run, p *configurePlan, logs *logWriter) error {
	insts, err := e.instances(bg, p.d.ID)
	if err != nil {
		return err
	}
	rt := &tosca2tf.Runtime{T: p.tmpl, Inputs: p.res.Inputs, Instances: insts}
	steps, digests, err := e.steps(ctx, p, rt)
	if err != nil {
		e.markNodes(bg, p, insts, digests, store.ResError, err)
		return err
	}
	needAnsible := false
	for _, list := range steps {
		for _, s := range list {
			needAnsible = needAnsible || s.op.Kind() == "ansible"
		}
	}
	if needAnsible {
		if err := configure.Available(); err != nil {
			err = fmt.Errorf("software configuration is not available on this service: %w", err)
			e.markNodes(bg, p, insts, digests, store.ResError, err)
			return err
		}
	}
	// On update, nodes whose digest did not change are left alone.
	if !p.force {
		prev, _ := e.store.Configured.List(bg, p.d.ID)
		var keep []*tosca2tf.ConfigNode
		for _, n := range p.nodes {
			changed := false
			for i := 0; i < len(insts[n.Host]); i++ {
				key := fmt.Sprintf("%s/%d", n.Name, i)
				if c, ok := prev[key]; !ok || c.Digest != digests[key] || c.State != store.ResConfigured {
					changed = true
				}
			}
			if changed {
				keep = append(keep, n)
			} else {
				logs.add(store.LevelInfo, store.SourceConfiguration, n.Name, "unchanged since it was configured: its operations are not run again")
			}
		}
		p.nodes = keep
		if len(p.nodes) == 0 {
			return nil
		}
	}

	sess, hostsByAlias, err := e.openSession(bg, p, insts)
	if err != nil {
		e.markNodes(bg, p, insts, digests, store.ResError, err)
		return err
	}
	defer sess.Close()
	defer func() {
		if known, err := sess.KnownHosts(); err == nil {
			if err := e.store.DeploymentSSH.SetKnownHosts(bg, p.d.ID, known); err != nil {
				logs.add(store.LevelWarn, store.SourceOrchestrator, "", "record host keys: "+err.Error())
			}
		}
	}()
	red := configure.NewRedactor(rt.Sensitive...)
	for _, h := range hostsByAlias {
		red.Add(string(h.Key))
	}

	total := 0
	for _, n := range p.nodes {
		total += len(steps[n.Name])
	}
	logs.addPlanned(total)

	wait := e.cfg.Configure.SSHWait
	if s := targetNumber(p.target, "ssh_wait_seconds"); s > 0 {
		wait = time.Duration(s) * time.Second
	}
	if wait <= 0 {
		wait = 5 * time.Minute
	}
	waited := map[string]error{}
	var waitMu sync.Mutex
	waitFor := func(alias string, node string) error {
		waitMu.Lock()
		defer waitMu.Unlock()
		if err, ok := waited[alias]; ok {
			return err
		}
		err := sess.WaitSSH(ctx, alias, wait, func(l configure.Line) {
			logs.add(l.Level, store.SourceConfiguration, node, red.Hide(l.Message))
		})
		waited[alias] = err
		return err
	}

	rolesPath := filepath.Join(e.cfg.DataDir, "configure", p.d.ID, "roles")
	var roles []configure.Role
	seenRole := map[string]bool{}
	for _, n := range p.nodes {
		for _, spec := range n.Roles {
			r, err := e.configureResolver().Role(spec)
			if err != nil {
				f := &configureFailure{Node: n.Name, Operation: "Galaxy role", Host: "-", Err: err}
				e.markNodes(bg, p, insts, digests, store.ResError, f)
				return f
			}
			if !seenRole[r.Name] {
				seenRole[r.Name] = true
				roles = append(roles, r)
			}
		}
	}
	if err := sess.InstallRoles(ctx, roles, rolesPath, func(l configure.Line) {
		logs.add(l.Level, store.SourceConfiguration, "", red.Hide(l.Message))
	}); err != nil {
		e.markNodes(bg, p, insts, digests, store.ResError, err)
		return err
	}

	// Nodes run when every node they depend on is configured; independent
	// ones run in parallel, bounded.
	parallel := e.cfg.Configure.Parallel
	if parallel <= 0 {
		parallel = 4
	}
	type outcome struct {
		name string
		err  error
	}
	results := make(chan outcome)
	state := map[string]string{} // "", "running", "done", "failed", "skipped"
	var first error
	running := 0
	for {
		for _, n := range p.nodes {
			if state[n.Name] != "" || running >= parallel {
				continue
			}
			ready, blocked := true, ""
			for _, dep := range n.DependsOn {
				switch state[dep] {
				case "done":
				case "failed", "skipped":
					blocked = dep
				default:
					if p.has(dep) {
						ready = false
					}
				}
			}
			if blocked != "" || (first != nil && !p.bestEffort) {
				state[n.Name] = "skipped"
				reason := "skipped: the configuration of " + blocked + " failed"
				if blocked == "" {
					reason = "skipped: the configuration stopped at the first failure"
				}
				logs.add(store.LevelWarn, store.SourceConfiguration, n.Name, reason)
				e.markNode(bg, p, n, insts, digests, store.ResError, errors.New(reason))
				continue
			}
			if !ready {
				continue
			}
			state[n.Name] = "running"
			running++
			go func(n *tosca2tf.ConfigNode) {
				results <- outcome{n.Name, e.configureNode(ctx, bg, p, n, steps[n.Name], sess, red, waitFor, rolesPath, insts, digests, logs)}
			}(n)
		}
		if running == 0 {
			break
		}
		o := <-results
		running--
		if o.err != nil {
			state[o.name] = "failed"
			if first == nil {
				first = o.err
			}
		} else {
			state[o.name] = "done"
		}
	}
	if first != nil && p.bestEffort {
		logs.add(store.LevelWarn, store.SourceConfiguration, "", "best effort: "+first.Error())
		return nil
	}
	return first
}

func (p *configurePlan) has(name string) bool {
	for _, n := range p.nodes {
		if n.Name == name {
			return true
		}
	}
	return false
}

// configureNode runs one node's operations on each of its host's instances.
func (e *Engine) configureNode(ctx, bg context.Context, p *configurePlan, n *tosca2tf.ConfigNode, steps []configureStep,
	sess *configure.Session, red *configure.Redactor, waitFor func(alias, node string) error, rolesPath string,
	insts map[string][]map[string]any, digests map[string]string, logs *logWriter) error {
	sink := func(l configure.Line) { logs.add(l.Level, store.SourceConfiguration, n.Name, l.Message) }
	if !p.bestEffort {
		e.markNode(bg, p, n, insts, digests, store.ResConfiguring, nil)
	}
	var ran []string
	for _, s := range steps {
		alias := configure.Alias(n.Host, s.instance)
		fail := func(err error) error {
			f := &configureFailure{Node: n.Name, Operation: s.op.Key(), Host: alias, Err: err}
			logs.add(store.LevelError, store.SourceConfiguration, n.Name, red.Hide(f.Error()))
			if !p.bestEffort {
				e.markNode(bg, p, n, insts, digests, store.ResError, f)
			}
			return f
		}
		if err := waitFor(alias, n.Name); err != nil {
			return fail(err)
		}
		start := time.Now()
		logs.add(store.LevelInfo, store.SourceConfiguration, n.Name, red.Hide(fmt.Sprintf("%s on %s: %s %s, inputs %s",
			s.op.Key(), alias, map[string]string{"ansible": "playbook", "script": "script"}[s.op.Kind()], s.op.Implementation, inputNames(s.inputs))))
		var err error
		switch s.op.Kind() {
		case "ansible":
			err = sess.RunPlaybook(ctx, configure.Playbook{Alias: alias, Path: s.path, Vars: s.inputs, RolesPath: rolesPath}, red, sink)
		case "script":
			var script []byte
			if script, err = os.ReadFile(s.path); err == nil {
				err = sess.RunScript(ctx, alias, script, envOf(s.inputs), red, sink)
			}
		default:
			err = fmt.Errorf("implementation %s cannot run here", s.op.Implementation)
		}
		logs.addDone(1)
		if err != nil {
			return fail(err)
		}
		logs.add(store.LevelInfo, store.SourceConfiguration, n.Name, fmt.Sprintf("%s on %s done in %s", s.op.Key(), alias, time.Since(start).Round(time.Millisecond)))
		ran = append(ran, s.op.Key())
	}
	if !p.bestEffort {
		e.markNode(bg, p, n, insts, digests, store.ResConfigured, nil, uniq(ran)...)
	}
	return nil
}

// envOf turns operation inputs into environment variables for a script:
// strings as they are, anything else as JSON.
func envOf(inputs map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range inputs {
		switch x := v.(type) {
		case string:
			out[k] = x
		case nil:
			out[k] = ""
		default:
			b, _ := json.Marshal(x)
			out[k] = string(b)
		}
	}
	return out
}

// markNodes sets every planned node's instances to state.
func (e *Engine) markNodes(ctx context.Context, p *configurePlan, insts map[string][]map[string]any, digests map[string]string, state store.ResourceState, err error) {
	if p.bestEffort {
		return
	}
	for _, n := range p.nodes {
		e.markNode(ctx, p, n, insts, digests, state, err)
	}
}

// markNode records a node's configuration state on each of its instances.
func (e *Engine) markNode(ctx context.Context, p *configurePlan, n *tosca2tf.ConfigNode, insts map[string][]map[string]any,
	digests map[string]string, state store.ResourceState, err error, ran ...string) {
	for i := 0; i < len(insts[n.Host]); i++ {
		key := fmt.Sprintf("%s/%d", n.Name, i)
		attrs := map[string]any{"configured": state == store.ResConfigured, "simulated": false, "host": configure.Alias(n.Host, i)}
		digest := ""
		if state == store.ResConfigured {
			digest = digests[key]
			attrs["operations"] = ran
			attrs["error"] = nil
		}
		if err != nil {
			attrs["error"] = err.Error()
		}
		if e := e.store.Configured.Set(ctx, p.d.ID, store.ConfiguredNode{Node: n.Name, Instance: i, State: state, Digest: digest, Attributes: attrs}); e != nil {
			continue
		}
	}
}

// configureResolver is the configured resolver, or one that knows the
// examples' artifacts only (written under DataDir/artifacts once).
func (e *Engine) configureResolver() *configure.Resolver {
	if e.cfg.Configure.Resolver != nil {
		return e.cfg.Configure.Resolver
	}
	e.defaultResolverOnce.Do(func() {
		dir := filepath.Join(e.cfg.DataDir, "artifacts")
		if err := examples.WriteArtifacts(dir); err != nil {
			e.log.Error("write the examples' artifacts", "error", err.Error())
		}
		e.defaultResolver = &configure.Resolver{Dirs: []string{dir}}
	})
	return e.defaultResolver
}

func targetConfig(t *store.Target) map[string]any {
	cfg := map[string]any{}
	if len(t.Config) > 0 {
		_ = json.Unmarshal(t.Config, &cfg)
	}
	return cfg
}

func targetNumber(t *store.Target, key string) float64 {
	if n, ok := targetConfig(t)[key].(float64); ok {
		return n
	}
	return 0
}

// openSession builds the SSH session for the hosts of the planned nodes: pool
// hosts with their own keys (and bastions), cloud servers with the
// deployment's key, through the deployment's server with a public address when
// theirs is private.
func (e *Engine) openSession(ctx context.Context, p *configurePlan, insts map[string][]map[string]any) (*configure.Session, map[string]*configure.Host, error) {
	access, err := e.store.DeploymentSSH.Ensure(ctx, p.d.ID, newDeploymentKey(p.d.ID))
	if err != nil {
		return nil, nil, err
	}
	hosts := map[string]*configure.Host{}
	computes := map[string]bool{}
	for _, n := range p.nodes {
		computes[n.Host] = true
	}
	switch p.target.Kind {
	case "hostpool":
		pool, err := modules.PoolHosts(targetConfig(p.target))
		if err != nil {
			return nil, nil, err
		}
		creds, err := e.store.Targets.Credentials(ctx, p.target.Name)
		if err != nil {
			return nil, nil, err
		}
		allocs, err := e.store.Allocations.List(ctx, "", p.d.ID)
		if err != nil {
			return nil, nil, err
		}
		byName := map[string]modules.PoolHost{}
		for _, h := range pool {
			byName[h.Name] = h
		}
		for _, a := range allocs {
			if !computes[a.Node] {
				continue
			}
			ph, ok := byName[a.Host]
			if !ok {
				return nil, nil, fmt.Errorf("pool host %s allocated to %s[%d] is no longer in target %s", a.Host, a.Node, a.Instance, p.target.Name)
			}
			key := creds["ssh_private_key."+ph.Name]
			if key == "" {
				key = creds["ssh_private_key"]
			}
			if key == "" {
				return nil, nil, fmt.Errorf("target %s has no credential ssh_private_key (or ssh_private_key.%s) to log in to pool host %s", p.target.Name, ph.Name, ph.Name)
			}
			h := &configure.Host{Alias: configure.Alias(a.Node, a.Instance), Addr: ph.Address, Port: ph.Port, User: ph.User, Key: []byte(key)}
			if ph.Bastion != nil {
				h.Jump = &configure.Host{Alias: "bastion-" + ph.Name, Addr: ph.Bastion.Address, Port: ph.Bastion.Port, User: ph.Bastion.User, Key: []byte(key)}
			}
			hosts[h.Alias] = h
		}
	default:
		cfg := targetConfig(p.target)
		user, _ := cfg["ssh_user"].(string)
		if user == "" {
			user = "root"
		}
		var jump *configure.Host
		if b, ok := cfg["bastion"].(map[string]any); ok {
			addr, _ := b["address"].(string)
			buser, _ := b["user"].(string)
			port := 22
			if n, ok := b["port"].(float64); ok {
				port = int(n)
			}
			jump = &configure.Host{Alias: "bastion", Addr: addr, Port: port, User: buser, Key: access.PrivateKey}
		}
		// The deployment's own server with a public address serves as jump host
		// for those without one.
		if jump == nil {
			names := make([]string, 0, len(insts))
			for n := range insts {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, name := range names {
				for i, attrs := range insts[name] {
					if pub, _ := attrs["public_address"].(string); pub != "" && jump == nil {
						jump = &configure.Host{Alias: configure.Alias(name, i) + "-public", Addr: pub, Port: 22, User: user, Key: access.PrivateKey}
					}
				}
			}
		}
		for name := range computes {
			for i, attrs := range insts[name] {
				h := &configure.Host{Alias: configure.Alias(name, i), Port: 22, User: user, Key: access.PrivateKey}
				if pub, _ := attrs["public_address"].(string); pub != "" {
					h.Addr = pub
				} else if priv, _ := attrs["private_address"].(string); priv != "" {
					h.Addr, h.Jump = priv, jump
					if jump == nil {
						return nil, nil, fmt.Errorf("server %s has no public address and the deployment has no server with one, nor does target %s configure a bastion", h.Alias, p.target.Name)
					}
				} else {
					return nil, nil, fmt.Errorf("server %s has no address to connect to", h.Alias)
				}
				hosts[h.Alias] = h
			}
		}
	}
	list := make([]*configure.Host, 0, len(hosts))
	for _, h := range hosts {
		list = append(list, h)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Alias < list[j].Alias })
	dir, err := os.MkdirTemp(filepath.Join(e.cfg.DataDir), "ssh-"+p.d.ID[:8]+"-")
	if err != nil {
		return nil, nil, err
	}
	sess, err := configure.NewSession(dir, list, access.KnownHosts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return sess, hosts, nil
}

// newDeploymentKey generates the deployment's key pair on first use.
func newDeploymentKey(deploymentID string) func() ([]byte, string, error) {
	return func() ([]byte, string, error) {
		kp, err := configure.NewKeyPair("orchestrator-" + deploymentID)
		if err != nil {
			return nil, "", err
		}
		return kp.Private, kp.Public, nil
	}
}

// addPlanned counts configuration steps into the run's progress.
func (w *logWriter) addPlanned(n int) {
	w.mu.Lock()
	w.progress.Planned += n
	w.dirty = true
	w.mu.Unlock()
}

// addDone counts finished configuration steps.
func (w *logWriter) addDone(n int) {
	w.mu.Lock()
	w.progress.Done += n
	if w.progress.Done > w.progress.Planned {
		w.progress.Done = w.progress.Planned
	}
	w.dirty = true
	w.mu.Unlock()
}

// ActionReconfigure is the day-2 action that re-runs a software node's (or a
// Compute's software's) operations without touching the infrastructure.
const ActionReconfigure = store.ActionReconfigure

// allocateHosts really allocates a hostpool deployment's hosts before its
// Terraform runs (Render only checked); a delete keeps what it holds.
func (e *Engine) allocateHosts(ctx context.Context, d *store.Deployment, res *tosca2tf.Result, kind store.RunKind) error {
	target, err := e.store.Targets.Get(ctx, d.Target)
	if err != nil {
		return err
	}
	return e.placeHosts(ctx, d, target, res, kind == store.RunDelete)
}

// afterApply runs the configure phase after a successful create, update or
// redeploy, and releases pool hosts and configuration records after a
// successful delete.
func (e *Engine) afterApply(j *job, d *store.Deployment, res *tosca2tf.Result, result store.Result) store.Result {
	if result.Status != store.RunSucceeded {
		return result
	}
	switch j.run.Kind {
	case store.RunCreate, store.RunUpdate, store.RunRedeploy:
		if err := e.configureAfterApply(j, d, res); err != nil {
			return e.configureOutcome(j, result, err)
		}
	case store.RunDelete:
		ctx, cancel := opContext()
		defer cancel()
		e.releaseHosts(ctx, d, j.logs)
		if err := e.store.Configured.Forget(ctx, d.ID); err != nil {
			j.logs.add(store.LevelWarn, store.SourceOrchestrator, "", "forget the configuration records: "+err.Error())
		}
	}
	return result
}

// configureOutcome is a run's result when its configuration failed: cancelled
// or timed out when the run was stopped, failed with the node, operation and
// task otherwise. The infrastructure's outputs stay.
func (e *Engine) configureOutcome(j *job, result store.Result, err error) store.Result {
	result.Status, result.Error = store.RunFailed, failureText(err)
	switch j.stopReason() {
	case stopCancel:
		result.Status, result.Error = store.RunCancelled, "cancelled during software configuration: every ansible and ssh process of the run was stopped"
	case stopTimeout:
		result.Error = fmt.Sprintf("the run took longer than its time limit (%s) during software configuration: %s", e.cfg.RunTimeout, failureText(err))
	case stopShutdown:
		result.Error = "interrupted: the service stopped during software configuration; reconfigure to run it again"
	}
	j.logs.add(store.LevelError, store.SourceOrchestrator, "", result.Error)
	return result
}

// deploymentPublicKey is the public half of the deployment's key pair,
// generated on first use; real servers get it beside the owners' keys.
func (e *Engine) deploymentPublicKey(ctx context.Context, d *store.Deployment) (string, error) {
	if d.ID == "" {
		return "", nil
	}
	if _, err := e.store.Deployments.Get(ctx, d.ID); err != nil {
		return "", nil // not stored yet (a submission being checked): no key to give
	}
	access, err := e.store.DeploymentSSH.Ensure(ctx, d.ID, newDeploymentKey(d.ID))
	if err != nil {
		return "", fmt.Errorf("the deployment's ssh key: %w", err)
	}
	return access.PublicKey, nil
}

// checkConfiguration refuses, at submission, a template whose operations cannot
// run: an implementation or Galaxy role that cannot be resolved, or of a kind
// we cannot run, named with its node, operation and line.
func (e *Engine) checkConfiguration(ctx context.Context, d *store.Deployment) error {
	if target, err := e.store.Targets.Get(ctx, d.Target); err == nil && configurationOff(target) {
		return nil
	}
	tmpl, err := tosca2tf.Parse(ctx, tosca2tf.Source{Name: "template.yaml", Content: []byte(d.Template)}, e.cfg.Resolver)
	if err != nil {
		return err
	}
	r := e.configureResolver()
	errs := tmpl.CheckConfiguration(func(ref string, role bool) error {
		if role {
			_, err := r.Role(ref)
			return err
		}
		_, err := r.File(ctx, ref, "")
		return err
	})
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// configurationOff says the target's admin turned software configuration off
// (servers the service cannot reach): software nodes are only recorded.
func configurationOff(t *store.Target) bool {
	return targetConfig(t)["software_configuration"] == "off"
}

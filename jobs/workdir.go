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

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"orchestrator/modules"
	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// workdir is a deployment's working directory with Terraform ready to run in it.
type workdir struct {
	dir string
	tf  *tfexec.Terraform
	// env is the target's credentials Terraform runs with (never logged).
	env map[string]string
}

// initMarker records the configuration init last ran for.
const initMarker = ".orchestrator-init"

// open writes a deployment's configuration into its workdir, restores the state
// from the store when the workdir lost it (or holds an older one), and runs init
// when the configuration's providers or modules changed.
func (e *Engine) open(ctx context.Context, d *store.Deployment, res *tosca2tf.Result, env map[string]string, logs *logWriter) (*workdir, error) {
	dir := e.workdir(d.ID)
	w, err := e.writeConfig(dir, res, env)
	if err != nil {
		return nil, err
	}
	if restored, err := e.restoreState(ctx, d.ID, dir); err != nil {
		return nil, err
	} else if restored != "" && logs != nil {
		logs.add(store.LevelWarn, store.SourceOrchestrator, "", restored)
	}
	want := initKey(res, e.tc.TerraformVersion, d.Target)
	have, _ := os.ReadFile(filepath.Join(dir, initMarker))
	if _, err := os.Stat(filepath.Join(dir, ".terraform", "modules", "modules.json")); err == nil && string(have) == want {
		return w, nil
	}
	if logs != nil {
		logs.add(store.LevelInfo, store.SourceOrchestrator, "", "terraform init (providers from the local mirror)")
	}
	if err := w.tf.Init(ctx, tfexec.Upgrade(false)); err != nil {
		return nil, fmt.Errorf("terraform init: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, initMarker), []byte(want), 0o600); err != nil {
		return nil, fmt.Errorf("write init marker: %w", err)
	}
	return w, nil
}

// writeConfig writes main.tf.json, terraform.tfvars.json and our modules.
func (e *Engine) writeConfig(dir string, res *tosca2tf.Result, env map[string]string) (*workdir, error) {
	if err := os.MkdirAll(filepath.Join(dir, ".home"), 0o700); err != nil {
		return nil, fmt.Errorf("create workdir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf.json"), res.Main, 0o600); err != nil {
		return nil, fmt.Errorf("write main.tf.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), res.Vars, 0o600); err != nil {
		return nil, fmt.Errorf("write terraform.tfvars.json: %w", err)
	}
	// Modules come from the binary every time, so a new version of the service
	// brings its modules with it.
	if err := os.RemoveAll(filepath.Join(dir, "modules")); err != nil {
		return nil, fmt.Errorf("clear modules: %w", err)
	}
	if err := modules.WriteTo(dir, res.Target); err != nil {
		return nil, fmt.Errorf("write modules: %w", err)
	}
	tf, err := e.terraform(dir, env)
	if err != nil {
		return nil, err
	}
	return &workdir{dir: dir, tf: tf, env: env}, nil
}

// terraform returns a Terraform for dir with an explicit environment: never the
// service's own; target credentials only as environment variables.
func (e *Engine) terraform(dir string, extra map[string]string) (*tfexec.Terraform, error) {
	tf, err := tfexec.NewTerraform(dir, e.tc.Terraform)
	if err != nil {
		return nil, fmt.Errorf("terraform in %s: %w", dir, err)
	}
	env := map[string]string{
		"CHECKPOINT_DISABLE": "1",
		"TF_CLI_CONFIG_FILE": e.tc.CLIConfig,
		"HOME":               filepath.Join(dir, ".home"),
		"PATH":               "/usr/local/bin:/usr/bin:/bin",
		"TMPDIR":             os.TempDir(),
	}
	for k, v := range extra {
		env[k] = v
	}
	if err := tf.SetEnv(env); err != nil {
		return nil, fmt.Errorf("terraform environment: %w", err)
	}
	if err := tf.SetWaitDelay(e.cfg.KillGrace); err != nil {
		return nil, err
	}
	return tf, nil
}

// initKey changes when init must run again: other providers, other modules,
// another Terraform.
func initKey(res *tosca2tf.Result, tfVersion, target string) string {
	var root struct {
		Terraform json.RawMessage `json:"terraform"`
		Module    map[string]struct {
			Source string `json:"source"`
		} `json:"module"`
	}
	_ = json.Unmarshal(res.Main, &root)
	sources := []string{}
	for name, m := range root.Module {
		sources = append(sources, name+"="+m.Source)
	}
	sort.Strings(sources)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%v\n", tfVersion, target, root.Terraform, sources)
	return hex.EncodeToString(h.Sum(nil))
}

// restoreState puts the newest stored state in the workdir when the workdir has
// none, a corrupt one, an older one, or one of another lineage. It says what it
// did ("" when the workdir was up to date).
func (e *Engine) restoreState(ctx context.Context, deploymentID, dir string) (string, error) {
	stored, err := e.store.States.Latest(ctx, deploymentID)
	if store.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "terraform.tfstate")
	raw, err := os.ReadFile(path)
	reason := ""
	switch {
	case errors.Is(err, os.ErrNotExist):
		reason = "the workdir had no state: restored"
	case err != nil:
		return "", fmt.Errorf("read state: %w", err)
	default:
		var h stateHeader
		if json.Unmarshal(raw, &h) != nil || h.Lineage == "" {
			reason = "the workdir's state was corrupt: restored"
		} else if h.Lineage != stored.Lineage {
			reason = "the workdir's state had another lineage: restored"
		} else if h.Serial < stored.Serial {
			reason = "the workdir's state was older than the stored one: restored"
		}
	}
	if reason == "" {
		return "", nil
	}
	if err := os.WriteFile(path, stored.State, 0o600); err != nil {
		return "", fmt.Errorf("restore state: %w", err)
	}
	return fmt.Sprintf("%s (serial %d) from the store", reason, stored.Serial), nil
}

// apply streams `terraform apply -json` into the log. terraform-exec keeps the
// stream as the stdout of every later command (state pull, output): it is reset at
// once, or the state, secrets included, would be logged.
func (w *workdir) apply(ctx context.Context, logs *logWriter, opts ...tfexec.ApplyOption) error {
	defer w.tf.SetStdout(nil)
	return w.tf.ApplyJSON(ctx, terraformStream{logs}, opts...)
}

func (w *workdir) destroy(ctx context.Context, logs *logWriter) error {
	defer w.tf.SetStdout(nil)
	return w.tf.DestroyJSON(ctx, terraformStream{logs})
}

// managedAddresses lists every managed resource in the state (redeploy replaces them all).
func (w *workdir) managedAddresses(ctx context.Context) ([]string, error) {
	st, err := w.tf.Show(ctx)
	if err != nil {
		return nil, fmt.Errorf("terraform show: %w", err)
	}
	var out []string
	if st == nil || st.Values == nil {
		return out, nil
	}
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		for _, r := range m.Resources {
			if r.Mode == tfjson.ManagedResourceMode {
				out = append(out, r.Address)
			}
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(st.Values.RootModule)
	sort.Strings(out)
	return out, nil
}

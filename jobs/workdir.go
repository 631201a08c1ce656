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

	"github.com/hashicorp/terraform-exec/tfexec"

	"orchestrator/modules"
	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// workdir is a deployment's working directory with Terraform ready to run in it.
type workdir struct {
	dir string
	env []string // Terraform's whole environment
	// tf drives the read-only views (show, plan) in scratch copies.
	tf *tfexec.Terraform
}

// initMarker records the configuration init last ran for.
const initMarker = ".orchestrator-init"

// modulesMarker records which modules the workdir's modules/ holds.
const modulesMarker = ".orchestrator-modules"

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
	want := initKey(res, e.tc.TerraformVersion, d.Target, modules.Digest(res.Target), e.mirrorFingerprint())
	have, _ := os.ReadFile(filepath.Join(dir, initMarker))
	if _, err := os.Stat(filepath.Join(dir, ".terraform", "modules", "modules.json")); err == nil && string(have) == want {
		return w, nil
	}
	if e.reuseInit(dir, want) {
		if err := os.WriteFile(filepath.Join(dir, initMarker), []byte(want), 0o600); err != nil {
			return nil, fmt.Errorf("write init marker: %w", err)
		}
		return w, nil
	}
	if logs != nil {
		logs.add(store.LevelInfo, store.SourceOrchestrator, "", "terraform init (providers from the local mirror)")
	}
	if err := e.runTerraform(ctx, dir, w.env, nil, "init", "-input=false", "-no-color"); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, initMarker), []byte(want), 0o600); err != nil {
		return nil, fmt.Errorf("write init marker: %w", err)
	}
	e.saveInit(dir, want)
	return w, nil
}

// writeConfig writes main.tf.json, terraform.tfvars.json and our modules.
func (e *Engine) writeConfig(dir string, res *tosca2tf.Result, env map[string]string) (*workdir, error) {
	for _, sub := range []string{".home", streamDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("create workdir: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf.json"), res.Main, 0o600); err != nil {
		return nil, fmt.Errorf("write main.tf.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), res.Vars, 0o600); err != nil {
		return nil, fmt.Errorf("write terraform.tfvars.json: %w", err)
	}
	// Modules come from the binary: a new version of the service brings its
	// modules with it. They are rewritten only when they differ from the
	// workdir's (the marker names the target and the modules' digest).
	wantModules := res.Target + " " + modules.Digest(res.Target) + "\n"
	haveModules, _ := os.ReadFile(filepath.Join(dir, modulesMarker))
	if _, err := os.Stat(filepath.Join(dir, "modules", res.Target)); err != nil || string(haveModules) != wantModules {
		if err := os.Remove(filepath.Join(dir, modulesMarker)); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("clear modules marker: %w", err)
		}
		if err := os.RemoveAll(filepath.Join(dir, "modules")); err != nil {
			return nil, fmt.Errorf("clear modules: %w", err)
		}
		if err := modules.WriteTo(dir, res.Target); err != nil {
			return nil, fmt.Errorf("write modules: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, modulesMarker), []byte(wantModules), 0o600); err != nil {
			return nil, fmt.Errorf("write modules marker: %w", err)
		}
	}
	envList, err := e.terraformEnv(dir, env)
	if err != nil {
		return nil, err
	}
	tf, err := e.terraform(dir, env)
	if err != nil {
		return nil, err
	}
	return &workdir{dir: dir, env: envList, tf: tf}, nil
}

// terraform returns a terraform-exec Terraform for dir (the views use it) with
// the same explicit environment as every other Terraform of the engine.
func (e *Engine) terraform(dir string, creds map[string]string) (*tfexec.Terraform, error) {
	tf, err := tfexec.NewTerraform(dir, e.tc.Terraform)
	if err != nil {
		return nil, fmt.Errorf("terraform in %s: %w", dir, err)
	}
	list, err := e.terraformEnv(dir, creds)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	// terraform-exec refuses to be handed these; it sets them itself.
	delete(env, "TF_IN_AUTOMATION")
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
func initKey(res *tosca2tf.Result, tfVersion, target, modulesDigest, mirror string) string {
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
	fmt.Fprintf(h, "%s\n%s\n%s\n%v\n%s\n%s\n", tfVersion, target, root.Terraform, sources, modulesDigest, mirror)
	return hex.EncodeToString(h.Sum(nil))
}

// syncMarkerFile records, in a workdir, the newest stored state the workdir was
// in step with: the state version it stored or restored last (and the one it
// is storing, while it does). Workdirs are disposable caches of the store, and
// replicas each have their own: a workdir whose state is newer than the store's
// newest is a descendant of it only if the store's newest is the state this
// workdir was last in step with. Otherwise another replica ran the deployment
// meanwhile from an older state (this replica had lost the run), and the
// workdir's state is a fork that must not be applied on.
const syncMarkerFile = ".orchestrator-synced"

type syncMarker struct {
	Lineage string `json:"lineage"`
	Serial  int64  `json:"serial"`
	Storing int64  `json:"storing,omitempty"`
}

func readSyncMarker(dir string) syncMarker {
	var m syncMarker
	raw, err := os.ReadFile(filepath.Join(dir, syncMarkerFile))
	if err == nil {
		_ = json.Unmarshal(raw, &m)
	}
	return m
}

func writeSyncMarker(dir string, m syncMarker) {
	raw, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, syncMarkerFile+".tmp"), raw, 0o600); err == nil {
		_ = os.Rename(filepath.Join(dir, syncMarkerFile+".tmp"), filepath.Join(dir, syncMarkerFile))
	}
}

// inStep reports whether the workdir was last in step with the stored state v.
// A workdir from before markers existed is trusted, as it always was.
func inStep(dir string, v *store.StateVersion) bool {
	m := readSyncMarker(dir)
	if m.Lineage == "" {
		_, err := os.Stat(filepath.Join(dir, syncMarkerFile))
		return errors.Is(err, os.ErrNotExist)
	}
	return m.Lineage == v.Lineage && (m.Serial == v.Serial || m.Storing == v.Serial)
}

// restoreState puts the newest stored state in the workdir when the workdir has
// none, a corrupt one, an older one, one of another lineage, or one that forked
// from an older stored state (see syncMarkerFile). It says what it did (""
// when the workdir was up to date).
func (e *Engine) restoreState(ctx context.Context, deploymentID, dir string) (string, error) {
	stored, err := e.store.States.Latest(ctx, deploymentID)
	if store.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, stateFile)
	raw, err := os.ReadFile(path)
	reason := ""
	switch {
	case errors.Is(err, os.ErrNotExist):
		reason = "the workdir had no state: restored"
	case err != nil:
		return "", fmt.Errorf("read state: %w", err)
	default:
		h, perr := parseState(raw)
		if perr != nil {
			reason = "the workdir's state was corrupt (kept as terraform.tfstate.corrupt): restored"
			if err := os.Rename(path, path+".corrupt"); err != nil {
				return "", fmt.Errorf("set the corrupt state aside: %w", err)
			}
		} else if h.Lineage != stored.Lineage {
			reason = "the workdir's state had another lineage (kept as terraform.tfstate.other-lineage): restored"
			if err := os.Rename(path, path+".other-lineage"); err != nil {
				return "", fmt.Errorf("set the other state aside: %w", err)
			}
		} else if h.Serial < stored.Serial {
			reason = "the workdir's state was older than the stored one: restored"
		} else if h.Serial > stored.Serial && !inStep(dir, stored) {
			aside := fmt.Sprintf("%s.forked-%d", path, h.Serial)
			reason = fmt.Sprintf("the workdir's state (serial %d) went on from an older state than the store's newest, while another "+
				"worker ran this deployment: resources it lists may exist and are not in the stored state (kept as %s for an operator); restored",
				h.Serial, filepath.Base(aside))
			if err := os.Rename(path, aside); err != nil {
				return "", fmt.Errorf("set the forked state aside: %w", err)
			}
		}
	}
	if reason == "" {
		return "", nil
	}
	// Written aside and renamed: a crash leaves the old file or the new one.
	if err := os.WriteFile(path+".restoring", stored.State, 0o600); err != nil {
		return "", fmt.Errorf("restore state: %w", err)
	}
	if err := os.Rename(path+".restoring", path); err != nil {
		return "", fmt.Errorf("restore state: %w", err)
	}
	writeSyncMarker(dir, syncMarker{Lineage: stored.Lineage, Serial: stored.Serial})
	return fmt.Sprintf("%s (serial %d) from the store", reason, stored.Serial), nil
}

// managedAddresses lists every managed resource instance in the workdir's state
// (redeploy replaces them all).
func (w *workdir) managedAddresses(context.Context) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(w.dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	st, err := parseState(raw)
	if err != nil {
		return nil, err
	}
	return st.managedAddresses(), nil
}

package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"orchestrator/store"
)

// tfState is the part of a Terraform state file (format version 4) the engine
// reads: it never runs Terraform to learn what a state holds.
type tfState struct {
	Serial    int64  `json:"serial"`
	Lineage   string `json:"lineage"`
	Outputs   map[string]tfOutput
	Resources []struct {
		Module    string `json:"module"`
		Mode      string `json:"mode"`
		Type      string `json:"type"`
		Name      string `json:"name"`
		Instances []struct {
			IndexKey any `json:"index_key"`
		} `json:"instances"`
	} `json:"resources"`
}

// tfOutput is one root output value in a state.
type tfOutput struct {
	Value     json.RawMessage `json:"value"`
	Sensitive bool            `json:"sensitive"`
}

// parseState reads a state file; a truncated or foreign file is an error.
func parseState(raw []byte) (*tfState, error) {
	var st tfState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("the state is not valid JSON: %w", err)
	}
	if st.Lineage == "" {
		return nil, errors.New("the state has no lineage")
	}
	return &st, nil
}

// managedAddresses lists the state's managed resource instances, e.g.
// module.nodes[2].terraform_data.server.
func (st *tfState) managedAddresses() []string {
	out := []string{}
	for _, r := range st.Resources {
		if r.Mode != "managed" {
			continue
		}
		base := r.Type + "." + r.Name
		if r.Module != "" {
			base = r.Module + "." + base
		}
		for _, inst := range r.Instances {
			switch k := inst.IndexKey.(type) {
			case nil:
				out = append(out, base)
			case string:
				out = append(out, fmt.Sprintf("%s[%q]", base, k))
			default:
				out = append(out, fmt.Sprintf("%s[%v]", base, k))
			}
		}
	}
	sort.Strings(out)
	return out
}

// moduleInstances lists the module instances (module.nodes[2]) that hold at
// least one managed resource.
func (st *tfState) moduleInstances() map[string]bool {
	out := map[string]bool{}
	for _, r := range st.Resources {
		if r.Mode == "managed" && r.Module != "" && len(r.Instances) > 0 {
			// Only the outermost module call names a node instance.
			first := r.Module
			if i := strings.Index(first[len("module."):], ".module."); i >= 0 {
				first = first[:len("module.")+i]
			}
			out[first] = true
		}
	}
	return out
}

// readWorkdirState returns the workdir's state file when it holds a complete
// state (nil, nil when there is none). A file Terraform is writing right now,
// or one cut short by a kill, is an error.
func readWorkdirState(dir string) ([]byte, *tfState, error) {
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(strings.TrimSpace(string(raw))) == 0) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read state: %w", err)
	}
	st, err := parseState(raw)
	if err != nil {
		return nil, nil, err
	}
	return raw, st, nil
}

// storeState saves a state as a new version when it is newer than the stored
// one, under the lease of the run that wrote it (a zero Token outside any
// run). It reports whether it did; an older serial or another lineage is a
// conflict and the store keeps what it has. The workdir then knows it is in
// step with the store at that serial (see syncMarker).
func (e *Engine) storeState(ctx context.Context, l store.Lease, deploymentID string, raw []byte, st *tfState) (bool, error) {
	dir := e.workdir(deploymentID)
	m := readSyncMarker(dir)
	if m.Lineage == st.Lineage && m.Serial == st.Serial {
		m.Storing = 0
	} else {
		m.Storing = st.Serial
	}
	writeSyncMarker(dir, m) // a crash between the two writes leaves both serials known
	added, err := e.store.States.Add(ctx, l, &store.StateVersion{DeploymentID: deploymentID, RunID: l.RunID, Serial: st.Serial,
		Lineage: st.Lineage, State: raw})
	if err == nil {
		writeSyncMarker(dir, syncMarker{Lineage: st.Lineage, Serial: st.Serial})
	}
	return added, err
}

// storedState returns the newest stored state of a deployment (nil for none).
func (e *Engine) storedState(deploymentID string) ([]byte, error) {
	ctx, cancel := opContext()
	defer cancel()
	latest, err := e.store.States.Latest(ctx, deploymentID)
	if store.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return latest.State, nil
}

// ingestWorkdirState stores the workdir's state when it is complete and newer
// than the stored one, and returns the newest state there is (the workdir's, or
// else the stored one; nil when there is none). live says Terraform may still
// be writing the file.
func (e *Engine) ingestWorkdirState(l store.Lease, deploymentID string, logs *logWriter, live bool) ([]byte, error) {
	ctx, cancel := opContext()
	defer cancel()
	raw, st, err := readWorkdirState(e.workdir(deploymentID))
	// Terraform rewrites the file in place (truncated, then written): one still
	// running may be caught halfway, or between the two. A complete file comes
	// within milliseconds.
	for tries := 0; live && (err != nil || st == nil) && tries < 20; tries++ {
		time.Sleep(100 * time.Millisecond)
		raw, st, err = readWorkdirState(e.workdir(deploymentID))
	}
	var saveErr error
	if err != nil {
		saveErr = fmt.Errorf("the workdir's state is unreadable (%w): the stored state is kept", err)
	} else if st != nil {
		added, err := e.storeState(ctx, l, deploymentID, raw, st)
		switch {
		case err != nil && store.ErrorCode(err) == store.EConflict:
			saveErr = fmt.Errorf("the workdir's state was not stored: %w", err)
		case err != nil:
			return nil, err
		case added && logs != nil:
			logs.add(store.LevelInfo, store.SourceOrchestrator, "", fmt.Sprintf("saved state version (serial %d)", st.Serial))
		}
	}
	latest, err := e.store.States.Latest(ctx, deploymentID)
	if store.IsNotFound(err) {
		return nil, saveErr
	}
	if err != nil {
		return nil, err
	}
	return latest.State, saveErr
}

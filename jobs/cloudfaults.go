package jobs

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"orchestrator/jobs/osfault"
	"orchestrator/store"
)

// cloudFaults asks the cloud why the servers of a failed run failed: the
// OpenStack provider reports a server in ERROR without the fault message Nova
// keeps for it, and that message is what the user needs in status_reason. It
// returns "" when the cloud has nothing to add (or cannot be asked).
func (e *Engine) cloudFaults(ctx context.Context, dir string, creds map[string]string, logs *logWriter) string {
	ids := stateServers(filepath.Join(dir, "terraform.tfstate"))
	if len(ids) == 0 {
		return ""
	}
	faults, err := osfault.Servers(ctx, creds, ids)
	if err != nil {
		logs.add(store.LevelWarn, store.SourceOrchestrator, "", "could not ask the cloud why the run failed: "+err.Error())
	}
	var msgs []string
	for _, f := range faults {
		logs.add(store.LevelError, store.SourceOrchestrator, "", f.String())
		msgs = append(msgs, f.String())
	}
	return strings.Join(msgs, "; ")
}

// stateServers lists the ids of the OpenStack servers a state file holds
// (tainted ones included: a server that failed its build is tainted).
func stateServers(path string) []string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var st struct {
		Resources []struct {
			Mode      string `json:"mode"`
			Type      string `json:"type"`
			Instances []struct {
				Attributes struct {
					ID string `json:"id"`
				} `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if json.Unmarshal(raw, &st) != nil {
		return nil
	}
	var ids []string
	for _, r := range st.Resources {
		if r.Mode != "managed" || r.Type != "openstack_compute_instance_v2" {
			continue
		}
		for _, in := range r.Instances {
			if in.Attributes.ID != "" && len(ids) < 100 {
				ids = append(ids, in.Attributes.ID)
			}
		}
	}
	return ids
}

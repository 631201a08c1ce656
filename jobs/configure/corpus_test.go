package configure

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"orchestrator/tosca2tf"
)

// The corpus of real catalog templates (../shared/tosca-corpus from the
// repository root), and the type libraries it imports.
func corpusDir(t testing.TB) string {
	if d := os.Getenv("ORCHESTRATOR_TOSCA_CORPUS"); d != "" {
		return d
	}
	d, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "tosca-corpus"))
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("the TOSCA corpus is not at %s (set ORCHESTRATOR_TOSCA_CORPUS): %v", d, err)
	}
	return d
}

const (
	indigoTypes = "https://raw.githubusercontent.com/indigo-dc/tosca-types/master/"
	infnTypes   = "https://baltig.infn.it/infn-cloud/tosca-types/raw/v3.4.0/"
)

// corpusConfigFloor is what the configuration reaches on the corpus today; it
// must never silently drop. Raise it when support grows.
var corpusConfigFloor = struct{ software, runnable, resolvable, mappable, evaluable, configurable int }{
	software: 29, runnable: 28, resolvable: 0, mappable: 19, evaluable: 19, configurable: 0}

// How many corpus templates have software to configure; how many have only
// implementations we can run (playbooks, scripts); how many have every
// implementation and Galaxy role resolvable with the maps this test configures
// (the INFN/INDIGO artifact URLs and indigo-dc.* roles mapped to the stand-ins
// we wrote under cmd/orchestrator/testdata/indigo, relative scripts to the
// template's directory); and how many are configurable end to end: resolvable,
// and every operation input evaluates after a (simulated) apply. Few INDIGO
// artifacts have stand-ins, so it also counts the templates whose every
// implementation is mappable (a URL of a library an operator maps with
// --artifacts-map, an indigo-dc.* role, or a script beside the template) and,
// of those, how many have every input evaluable: what would configure end to
// end once the libraries are mapped.
func TestCorpusConfiguration(t *testing.T) {
	dir := corpusDir(t)
	types := &tosca2tf.Resolver{AllowLocal: true, Mappings: []tosca2tf.Mapping{
		{Prefix: indigoTypes, Dir: filepath.Join(dir, "_types", "indigo-dc_tosca-types")},
		{Prefix: infnTypes, Dir: filepath.Join(dir, "_types", "infn-cloud_tosca-types_v3.4.0")},
	}}
	standIns, _ := filepath.Abs(filepath.Join("..", "..", "cmd", "orchestrator", "testdata", "indigo"))
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "_types" {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			if data, _ := os.ReadFile(p); strings.Contains(string(data), "topology_template") {
				files = append(files, p)
			}
		}
		return nil
	})
	sort.Strings(files)
	if len(files) < 50 {
		t.Fatalf("found only %d templates in %s", len(files), dir)
	}
	var parsed, software, runnable, resolvable, mappable, evaluable, configurable int
	missing := map[string]int{}
	var report []string
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		data, _ := os.ReadFile(f)
		tmpl, err := tosca2tf.Parse(context.Background(), tosca2tf.Source{Name: rel, Content: data, Path: f}, types)
		if err != nil {
			continue
		}
		parsed++
		nodes := tmpl.Configuration()
		steps := 0
		for _, n := range nodes {
			steps += len(n.Steps(append(append([]string{}, tosca2tf.CreateOperations...), tosca2tf.DeleteOperations...)))
		}
		if steps == 0 {
			continue
		}
		software++
		r := &Resolver{Dirs: []string{filepath.Dir(f)}, Maps: []Mapping{
			{Prefix: infnTypes + "artifacts/", Dir: filepath.Join(standIns, "artifacts")},
			{Prefix: indigoTypes + "artifacts/", Dir: filepath.Join(standIns, "artifacts")},
			{Prefix: "indigo-dc.", Dir: filepath.Join(standIns, "roles")},
		}}
		kindsOK := true
		errs := tmpl.CheckConfiguration(func(ref string, role bool) error {
			if role {
				_, err := r.Role(ref)
				if err != nil {
					missing["role "+strings.SplitN(ref, ",", 2)[0]]++
				}
				return err
			}
			_, err := r.File(context.Background(), ref, "")
			if err != nil {
				missing[ref]++
			}
			return err
		})
		for _, e := range errs {
			if e.Kind == tosca2tf.KindUnsupported {
				kindsOK = false
			}
		}
		if kindsOK {
			runnable++
		}
		mappableErrs := tmpl.CheckConfiguration(func(ref string, role bool) error {
			if role && strings.HasPrefix(ref, "indigo-dc.") {
				return nil
			}
			if strings.HasPrefix(ref, indigoTypes) || strings.HasPrefix(ref, infnTypes) {
				return nil
			}
			_, err := r.File(context.Background(), ref, "")
			return err
		})
		isResolvable := len(errs) == 0
		if isResolvable {
			resolvable++
		} else {
			report = append(report, fmt.Sprintf("  %-70s %d unresolved, first: %s", rel, len(errs), errs[0].Message))
		}
		if len(mappableErrs) > 0 {
			continue
		}
		mappable++
		// Evaluate every input after a simulated apply: each Compute has one
		// instance with addresses.
		inst := map[string][]map[string]any{}
		for _, n := range tmpl.Nodes {
			if tmpl.Types.IsA(tosca2tf.NodeType, n.Type, "tosca.nodes.Compute") {
				inst[n.Name] = []map[string]any{{"private_address": "10.0.0.5", "public_address": "203.0.113.5", "cloud_id": "srv-" + n.Name}}
			}
		}
		rt := &tosca2tf.Runtime{T: tmpl, Inputs: map[string]any{}, Instances: inst}
		for _, in := range tmpl.Inputs {
			rt.Inputs[in.Name] = in.Default
			if !in.HasDefault {
				rt.Inputs[in.Name] = "example"
			}
		}
		ok := true
		for _, n := range nodes {
			for _, op := range n.Steps(tosca2tf.CreateOperations) {
				if _, err := rt.OperationInputs(n.Name, 0, op); err != nil {
					ok = false
					report = append(report, fmt.Sprintf("  %-70s %s %s: %v", rel, n.Name, op.Key(), err))
				}
			}
		}
		if ok {
			evaluable++
			if isResolvable {
				configurable++
			}
		}
	}
	var top []string
	for ref, n := range missing {
		top = append(top, fmt.Sprintf("%3d %s", n, ref))
	}
	sort.Sort(sort.Reverse(sort.StringSlice(top)))
	if len(top) > 10 {
		top = top[:10]
	}
	t.Logf("corpus configuration: %d templates, %d parsed, %d with software to configure, %d with only runnable implementations, "+
		"%d with every implementation resolvable (stand-in maps), %d configurable end to end; %d with every implementation mappable, %d of them with every input evaluable",
		len(files), parsed, software, runnable, resolvable, configurable, mappable, evaluable)
	t.Logf("most wanted unresolved artifacts:\n%s", strings.Join(top, "\n"))
	if testing.Verbose() {
		t.Logf("details:\n%s", strings.Join(report, "\n"))
	}
	f := corpusConfigFloor
	if software < f.software || runnable < f.runnable || resolvable < f.resolvable || mappable < f.mappable || evaluable < f.evaluable || configurable < f.configurable {
		t.Fatalf("configuration coverage dropped: software %d (floor %d), runnable %d (%d), resolvable %d (%d), mappable %d (%d), evaluable %d (%d), configurable %d (%d)",
			software, f.software, runnable, f.runnable, resolvable, f.resolvable, mappable, f.mappable, evaluable, f.evaluable, configurable, f.configurable)
	}
}

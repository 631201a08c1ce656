package tosca2tf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusDir is the shared corpus of real TOSCA templates (../shared/tosca-corpus
// from the repository root; CI has it there too).
func corpusDir(t testing.TB) string {
	if d := os.Getenv("ORCHESTRATOR_TOSCA_CORPUS"); d != "" {
		return d
	}
	d, _ := filepath.Abs(filepath.Join("..", "..", "shared", "tosca-corpus"))
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("the TOSCA corpus is not at %s (set ORCHESTRATOR_TOSCA_CORPUS): %v", d, err)
	}
	return d
}

// corpusResolver maps the type-library URLs the corpus imports to its _types dir,
// as an operator would: every branch and tag of a library (master, devel,
// dodas_roll, v3.4.0...) served from the one copy they keep.
func corpusResolver(dir string) *Resolver {
	return &Resolver{AllowLocal: true, Mappings: []Mapping{
		{Prefix: "https://raw.githubusercontent.com/indigo-dc/tosca-types/*/", Dir: filepath.Join(dir, "_types", "indigo-dc_tosca-types")},
		{Prefix: "https://baltig.infn.it/infn-cloud/tosca-types/raw/*/", Dir: filepath.Join(dir, "_types", "infn-cloud_tosca-types_v3.4.0")},
	}}
}

// corpusTemplates lists the service templates of the corpus (not the type files).
func corpusTemplates(t testing.TB, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "_types" {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			data, _ := os.ReadFile(p)
			if strings.Contains(string(data), "topology_template") {
				out = append(out, p)
			}
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// corpusFloor is what the translator reaches today on the corpus; coverage must
// never silently drop below it. Raise it when support grows.
var corpusFloor = struct{ parsed, translated int }{parsed: 75, translated: 74}

func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	files := corpusTemplates(t, dir)
	if len(files) < 50 {
		t.Fatalf("found only %d templates in %s", len(files), dir)
	}
	parsed, translated := 0, 0
	failures := map[string]int{}
	var report []string
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		outcome, warnings, err := corpusOne(dir, f)
		// Never a silent skip, and never an anonymous warning: each has a line,
		// and one about a node names it.
		for _, w := range warnings {
			if w.Pos.Line == 0 || (strings.HasPrefix(w.Message, "node ") && !strings.HasPrefix(w.Message, fmt.Sprintf("node %q", w.Node))) {
				t.Errorf("%s: warning without a line or its node: %+v", rel, w)
			}
		}
		switch outcome {
		case "translated":
			parsed++
			translated++
		case "parsed":
			parsed++
		}
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Errorf("%s: untyped error %T: %v", rel, err, err)
				continue
			}
			for _, e := range errs {
				if e.Kind == "" || (e.Pos.Line == 0 && e.Field == "") {
					t.Errorf("%s: error without kind or position: %+v", rel, e)
				}
			}
			failures[string(errs[0].Kind)]++
			report = append(report, fmt.Sprintf("  %-70s %s: %s", rel, errs[0].Kind, firstLine(errs[0].Error())))
		}
	}
	kinds := names(failures)
	var byKind []string
	for _, k := range kinds {
		byKind = append(byKind, fmt.Sprintf("%s=%d", k, failures[k]))
	}
	t.Logf("corpus: %d templates, %d parsed, %d translated, failed by reason: %s", len(files), parsed, translated, strings.Join(byKind, " "))
	if testing.Verbose() {
		t.Logf("failures:\n%s", strings.Join(report, "\n"))
	}
	if parsed < corpusFloor.parsed || translated < corpusFloor.translated {
		t.Fatalf("coverage dropped: parsed %d (floor %d), translated %d (floor %d)", parsed, corpusFloor.parsed, translated, corpusFloor.translated)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// corpusOne parses and translates one template; a panic is a test failure.
func corpusOne(dir, path string) (outcome string, warnings Errors, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("PANIC: %v", r)
			outcome = "panic"
		}
	}()
	data, rerr := os.ReadFile(path)
	if rerr != nil {
		return "", nil, rerr
	}
	tmpl, err := Parse(context.Background(), Source{Name: path, Content: data, Path: path}, corpusResolver(dir))
	if err != nil {
		return "failed", nil, err
	}
	res, err := Translate(tmpl, Options{Target: "local", DeploymentID: "corpus", Inputs: sampleInputs(tmpl)})
	if err != nil {
		return "parsed", tmpl.Warnings, err
	}
	return "translated", res.Warnings, nil
}

// sampleInputs gives every required input without a default a value that meets
// its type and simplest constraints, as a user deploying the template would.
func sampleInputs(t *Template) map[string]any {
	out := map[string]any{}
	for _, in := range t.Inputs {
		// Small clusters: a count of servers above 2 becomes 2, so the corpus
		// applies quickly and still scales.
		name := strings.ToLower(in.Name)
		if n, ok := in.Default.(int64); ok && n > 2 && in.Schema.Type == tInteger &&
			(strings.Contains(name, "num") || strings.Contains(name, "count") || strings.Contains(name, "instances")) &&
			!strings.Contains(name, "cpu") && !strings.Contains(name, "gpu") {
			if _, err := (valueChecker{reg: t.Types}).check(int64(2), &in.Schema, ""); err == nil {
				out[in.Name] = int64(2)
			}
			continue
		}
		if in.HasDefault || !in.Required {
			continue
		}
		var v any = map[string]any{
			tString: "example", tInteger: int64(1), tFloat: 1.0, tBoolean: true, tVersion: "1.0", tTimestamp: "2026-01-01T00:00:00Z",
			tSize: "1 GB", tTime: "1 s", tFrequency: "1 GHz", tBitrate: "1 Mbps", tList: []any{}, tMap: map[string]any{},
		}[in.Schema.Type]
		// A path where the template wants one (a mount point), as a user would give.
		text := strings.ToLower(in.Name + " " + in.Description)
		if in.Schema.Type == tString && (strings.Contains(text, "mount") || strings.Contains(text, "location") || strings.Contains(text, "path")) {
			v = "/mnt/data"
		}
		for _, c := range in.Schema.Constraints {
			switch c.Op {
			case "valid_values", "equal", "in_range", "greater_or_equal":
				v = c.Raw[0]
			}
		}
		if v != nil {
			out[in.Name] = v
		}
	}
	return out
}

func BenchmarkTranslateCorpus(b *testing.B) {
	dir := corpusDir(b)
	files := corpusTemplates(b, dir)
	contents := make([][]byte, len(files))
	for i, f := range files {
		contents[i], _ = os.ReadFile(f)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, f := range files {
			tmpl, err := Parse(context.Background(), Source{Name: f, Content: contents[j], Path: f}, corpusResolver(dir))
			if err == nil {
				Translate(tmpl, Options{Target: "local", DeploymentID: "bench"})
			}
		}
	}
	b.ReportMetric(float64(len(files)), "templates/op")
}

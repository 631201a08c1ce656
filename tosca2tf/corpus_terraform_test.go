package tosca2tf

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"orchestrator/jobs/toolchain/tftest"
	"orchestrator/modules"
)

// corpusTerraformFloor is what real Terraform accepts of the corpus today: the
// templates that translate (for both targets), those that apply on `local`
// (offline, through our modules) and those `terraform validate` accepts on
// `openstack` (the real provider). Raise it when support grows; it must never
// silently drop.
var corpusTerraformFloor = struct{ translated, applied, validated int }{translated: 74, applied: 73, validated: 74}

// corpusOutcome is what happened to one corpus template.
type corpusOutcome struct {
	family     string
	rel        string
	translated bool   // translated for both targets
	why        string // why it did not translate, apply or validate
	applied    bool
	validated  bool
	results    map[string]*Result
}

// forbiddenTerraform are failures a template that `--check` accepts must never
// meet inside Terraform: the translator has to see them first.
var forbiddenTerraform = []struct {
	name string
	re   *regexp.Regexp
}{
	{"cycle", regexp.MustCompile(`Cycle:`)},
	{"null concatenation", regexp.MustCompile(`(?s)null value|is null|<nil>`)},
	{"type error", regexp.MustCompile(`Invalid value for input variable|Invalid value for variable|Inconsistent conditional result types|Unsuitable value type|Incorrect attribute value type|Invalid function argument|Invalid operand|Unsupported attribute|Invalid index|Invalid reference|Unsupported argument|Missing required argument`)},
}

// TestCorpusTerraform runs real Terraform on the corpus: every template that
// translates is applied on `local` and validated on `openstack`. Terraform may
// refuse a template for reasons the translator cannot know (a catalog without
// the image asked for), but never with a cycle, a type error or a null
// concatenation.
//
// To stay inside the test budget, Terraform runs once per target over all the
// templates together: each template's root module becomes a child module of
// one root (its variable values as arguments), and failures are told apart by
// the module address or file Terraform names; a template that fails is set
// aside and the others run again.
func TestCorpusTerraform(t *testing.T) {
	dir := corpusDir(t)
	files := corpusTemplates(t, dir)
	tc := tftest.Find(t)
	var outcomes []*corpusOutcome
	var translated []*corpusOutcome
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		o := &corpusOutcome{rel: rel, family: strings.Split(filepath.ToSlash(rel), "/")[0]}
		outcomes = append(outcomes, o)
		corpusTranslate(t, dir, f, o)
		if o.translated {
			translated = append(translated, o)
		}
	}
	// Batches of a few templates: one Terraform run per batch and target keeps
	// process starts down, and small batches keep Terraform's graph small (its
	// cost grows faster than the number of modules).
	const batchSize = 8
	applied, validated := map[int]string{}, map[int]string{}
	var mu sync.Mutex
	t.Run("terraform", func(t *testing.T) {
		for start := 0; start < len(translated); start += batchSize {
			chunk := translated[start:min(start+batchSize, len(translated))]
			first := start
			for _, target := range []string{"local", "openstack"} {
				t.Run(fmt.Sprintf("%s/%d", target, first), func(t *testing.T) {
					t.Parallel()
					got := batchTerraform(t, tc, target, chunk)
					mu.Lock()
					defer mu.Unlock()
					for i, why := range got {
						if target == "local" {
							applied[first+i] = why
						} else {
							validated[first+i] = why
						}
					}
				})
			}
		}
	})
	for i, o := range translated {
		if why, ok := applied[i]; ok && why == "" {
			o.applied = true
		} else if ok {
			o.why = "apply local: " + why
			checkForbidden(t, o.rel, "apply on local", why)
		}
		if why, ok := validated[i]; ok && why == "" {
			o.validated = true
		} else if ok {
			if o.why == "" {
				o.why = "validate openstack: " + why
			}
			checkForbidden(t, o.rel, "validate on openstack", why)
		}
	}
	if t.Failed() {
		return
	}
	total := corpusReport(t, outcomes)
	fl := corpusTerraformFloor
	if total[1] < fl.translated || total[2] < fl.applied || total[3] < fl.validated {
		t.Fatalf("coverage dropped: translates %d (floor %d), applies on local %d (floor %d), validates on openstack %d (floor %d)",
			total[1], fl.translated, total[2], fl.applied, total[3], fl.validated)
	}
}

// corpusReport logs the counts per family and the reasons for the rest, and
// returns the totals: templates, translated, applied, validated.
func corpusReport(t *testing.T, outcomes []*corpusOutcome) [4]int {
	report := map[string]*[4]int{}
	var families, lines []string
	total := [4]int{}
	for _, o := range outcomes {
		if report[o.family] == nil {
			report[o.family] = &[4]int{}
			families = append(families, o.family)
		}
		for i, ok := range []bool{true, o.translated, o.applied, o.validated} {
			if ok {
				report[o.family][i]++
				total[i]++
			}
		}
		if o.why != "" {
			lines = append(lines, fmt.Sprintf("  %-75s %s", o.rel, o.why))
		}
	}
	sort.Strings(families)
	sort.Strings(lines)
	var table strings.Builder
	fmt.Fprintf(&table, "%-40s %9s %10s %14s %19s\n", "family", "templates", "translates", "applies local", "validates openstack")
	for _, f := range families {
		r := report[f]
		fmt.Fprintf(&table, "%-40s %9d %10d %14d %19d\n", f, r[0], r[1], r[2], r[3])
	}
	fmt.Fprintf(&table, "%-40s %9d %10d %14d %19d\n", "total", total[0], total[1], total[2], total[3])
	t.Logf("corpus through Terraform:\n%s", table.String())
	t.Logf("why the others do not:\n%s", strings.Join(lines, "\n"))
	return total
}

// corpusTarget is the local target's configuration for the corpus: the catalog of
// the cloud the templates were written for (testdata/corpus-target.json).
func corpusTarget(t *testing.T) map[string]any {
	data, err := os.ReadFile(filepath.Join("testdata", "corpus-target.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	delete(cfg, "description")
	return cfg
}

// corpusTranslate translates one template for both targets, as a user deploying
// it would (sample inputs); a panic is a test failure.
func corpusTranslate(t *testing.T, dir, path string, o *corpusOutcome) {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: PANIC: %v", o.rel, r)
		}
	}()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := Parse(context.Background(), Source{Name: path, Content: data, Path: path}, corpusResolver(dir))
	if err != nil {
		o.why = "parse: " + firstLine(err.(Errors)[0].Message)
		return
	}
	inputs := sampleInputs(tmpl)
	o.results = map[string]*Result{}
	for _, target := range []string{"local", "openstack"} {
		opts := Options{Target: target, DeploymentID: "corpus", Inputs: inputs}
		if target == "local" {
			opts.TargetConfig = corpusTarget(t)
		}
		res, err := Translate(tmpl, opts)
		if err != nil {
			o.why = "translate " + target + ": " + firstLine(err.(Errors)[0].Message)
			return
		}
		o.results[target] = res
	}
	o.translated = true
}

// checkForbidden fails the test when Terraform refused a translated template for a
// reason the translator must have caught.
func checkForbidden(t *testing.T, rel, what, why string) {
	t.Helper()
	for _, f := range forbiddenTerraform {
		if f.re.MatchString(why) {
			t.Errorf("%s: %s failed with a %s, which --check must catch first:\n%s", rel, what, f.name, why)
		}
	}
}

var batchModuleRE = regexp.MustCompile(`(?:module\.t|^t|/t)(\d+)(?:[./\[]|$)`)

// batchTerraform applies (local) or validates (openstack) every item's root
// module as a child module of one root, and says for each item index "" (it
// went through) or Terraform's error.
func batchTerraform(t *testing.T, tc tftest.Toolchain, target string, items []*corpusOutcome) map[int]string {
	out := map[int]string{}
	remaining := make([]int, len(items))
	for i := range items {
		remaining[i] = i
	}
	for round := 0; len(remaining) > 0; round++ {
		if round > 8 {
			for _, i := range remaining {
				out[i] = "not told apart from other failures"
			}
			break
		}
		dir := writeBatch(t, target, items, remaining)
		start := time.Now()
		tc.Run(t, dir, "init", "-input=false", "-backend=false")
		initTime := time.Since(start)
		start = time.Now()
		var diags []tfDiagnostic
		if target == "local" {
			text, err := tc.Try(t, dir, "apply", "-auto-approve", "-input=false", "-json")
			t.Logf("round %d: %d templates, init %s, apply %s", round, len(remaining), initTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
			if err == nil {
				break
			}
			diags = applyDiagnostics(text)
		} else {
			text, _ := tc.Try(t, dir, "validate", "-json")
			t.Logf("round %d: %d templates, init %s, validate %s", round, len(remaining), initTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
			var v struct {
				Valid       bool           `json:"valid"`
				Diagnostics []tfDiagnostic `json:"diagnostics"`
			}
			if err := json.Unmarshal([]byte(text), &v); err != nil {
				t.Fatalf("validate -json: %v\n%s", err, text)
			}
			if v.Valid {
				break
			}
			diags = v.Diagnostics
		}
		failed := map[int]string{}
		for _, d := range diags {
			if d.Severity != "error" {
				continue
			}
			for _, where := range []string{d.Address, d.Range.Filename, d.Summary, d.Detail} {
				if m := batchModuleRE.FindStringSubmatch(where); m != nil {
					i, _ := strconv.Atoi(m[1])
					if _, seen := failed[i]; !seen {
						failed[i] = firstLine(strings.Join(strings.Fields(d.Summary+": "+d.Detail), " "))
					}
					break
				}
			}
		}
		if len(failed) == 0 {
			t.Fatalf("%s: Terraform failed and no template is named:\n%+v", target, diags)
		}
		var next []int
		for _, i := range remaining {
			if why, bad := failed[i]; bad {
				out[i] = why
			} else {
				next = append(next, i)
			}
		}
		remaining = next
	}
	for _, i := range remaining {
		out[i] = ""
	}
	return out
}

// tfDiagnostic is a diagnostic of Terraform's JSON output.
type tfDiagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
	Address  string `json:"address"`
	Range    struct {
		Filename string `json:"filename"`
	} `json:"range"`
}

func applyDiagnostics(text string) []tfDiagnostic {
	var out []tfDiagnostic
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var line struct {
			Type       string       `json:"type"`
			Diagnostic tfDiagnostic `json:"diagnostic"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Type == "diagnostic" {
			out = append(out, line.Diagnostic)
		}
	}
	return out
}

// writeBatch writes one root module calling the chosen items' root modules
// (./t<index>), each with its terraform.tfvars.json values as arguments.
func writeBatch(t *testing.T, target string, items []*corpusOutcome, chosen []int) string {
	t.Helper()
	dir := t.TempDir()
	calls := map[string]any{}
	for _, i := range chosen {
		res := items[i].results[target]
		sub := filepath.Join(dir, fmt.Sprintf("t%d", i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "main.tf.json"), res.Main, 0o600); err != nil {
			t.Fatal(err)
		}
		// A copy of the modules each (not a link), so that Terraform names the
		// template in every diagnostic's file name.
		if err := modules.WriteTo(sub, target); err != nil {
			t.Fatal(err)
		}
		var vars map[string]any
		if err := json.Unmarshal(res.Vars, &vars); err != nil {
			t.Fatal(err)
		}
		args := escapeLiterals(vars).(map[string]any)
		args["source"] = fmt.Sprintf("./t%d", i)
		calls[fmt.Sprintf("t%d", i)] = args
	}
	root, _ := json.MarshalIndent(map[string]any{"module": calls}, "", " ")
	if err := os.WriteFile(filepath.Join(dir, "main.tf.json"), root, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeWorkdir(t *testing.T, target string, res *Result) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf.json"), res.Main, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), res.Vars, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := modules.WriteTo(dir, target); err != nil {
		t.Fatal(err)
	}
	return dir
}

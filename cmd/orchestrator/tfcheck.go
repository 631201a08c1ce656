package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"orchestrator/jobs/toolchain"
	"orchestrator/tosca2tf"
)

// `tosca2tf --check` runs Terraform on the generated module when a Terraform and
// the provider mirror are at hand, so that what Terraform would refuse (a cycle,
// a wrong type, a flavor or image the target's catalog lacks) is found before a
// user submits the template, not during their deployment.

// tfProblem is one thing Terraform refused, named by node when it can be.
type tfProblem struct {
	Node    string
	Pos     tosca2tf.Pos
	Message string
}

// findToolchain returns the toolchain --check runs, or why there is none.
func findToolchain(ctx context.Context, terraformPath, toolsDir string) (*toolchain.Toolchain, func(), error) {
	if terraformPath == "" {
		if data, err := os.ReadFile(filepath.Join(toolsDir, "terraform-path")); err == nil {
			terraformPath = strings.TrimSpace(string(data))
		}
	}
	if terraformPath == "" {
		found, err := toolchain.FindTerraform(ctx, toolchain.FindOptions{ToolsDir: toolsDir})
		if err != nil {
			return nil, nil, err
		}
		terraformPath = found
	}
	tmp, err := os.MkdirTemp("", "orchestrator-check-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	tc, err := toolchain.Load(ctx, terraformPath, filepath.Join(toolsDir, "providers"), filepath.Join(tmp, "terraformrc"))
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return tc, cleanup, nil
}

// terraformCheck writes the module to a scratch directory and runs init,
// validate and plan there, offline. On openstack the plan needs no cloud for new
// resources: the provider gets an endpoint where nothing listens, and a plan that
// still needs the cloud is reported as not planned (planned false, no problems).
func terraformCheck(ctx context.Context, tc *toolchain.Toolchain, target string, res *tosca2tf.Result) (problems []tfProblem, planned bool, err error) {
	dir, err := os.MkdirTemp("", "orchestrator-check-")
	if err != nil {
		return nil, false, err
	}
	defer os.RemoveAll(dir)
	if err := writeRootModule(dir, target, res); err != nil {
		return nil, false, err
	}
	env := []string{"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0", "TF_CLI_CONFIG_FILE=" + tc.CLIConfig,
		"HOME=" + dir, "PATH=/usr/bin:/bin"}
	if target == "openstack" {
		env = append(env, "OS_AUTH_URL=http://127.0.0.1:9/v3", "OS_USERNAME=check", "OS_PASSWORD=check", "OS_PROJECT_NAME=check",
			"OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default", "OS_REGION_NAME=RegionOne")
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, tc.Terraform, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("init", "-input=false", "-no-color", "-backend=false"); err != nil {
		return nil, false, fmt.Errorf("terraform init: %v\n%s", err, out)
	}
	out, err := run("validate", "-json", "-no-color")
	var v struct {
		Valid       bool           `json:"valid"`
		Diagnostics []tfDiagnostic `json:"diagnostics"`
	}
	if jerr := json.Unmarshal([]byte(out), &v); jerr != nil {
		return nil, false, fmt.Errorf("terraform validate: %v\n%s", err, out)
	}
	if !v.Valid {
		return problemsOf(res, v.Diagnostics), false, nil
	}
	out, err = run("plan", "-input=false", "-json", "-lock=false", "-refresh=false")
	if err == nil {
		return nil, true, nil
	}
	diags := jsonDiagnostics(out)
	for _, d := range diags {
		if d.Severity == "error" && (strings.Contains(d.Detail, "connection refused") || strings.Contains(d.Summary, "authenticat")) {
			return nil, false, nil // this plan needs the cloud
		}
	}
	if len(diags) == 0 {
		return nil, false, fmt.Errorf("terraform plan: %v\n%s", err, out)
	}
	return problemsOf(res, diags), false, nil
}

// tfDiagnostic is a diagnostic of Terraform's JSON output.
type tfDiagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
	Address  string `json:"address"`
	Range    *struct {
		Filename string `json:"filename"`
		Start    struct {
			Line int `json:"line"`
		} `json:"start"`
	} `json:"range"`
	Snippet *struct {
		Context string `json:"context"`
	} `json:"snippet"`
}

func jsonDiagnostics(text string) []tfDiagnostic {
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

var moduleNameRE = regexp.MustCompile(`module\.([A-Za-z0-9_-]+)`)

// problemsOf turns Terraform's errors into messages naming the TOSCA node whose
// module they are about.
func problemsOf(res *tosca2tf.Result, diags []tfDiagnostic) []tfProblem {
	byIdent := map[string]tosca2tf.NodeInfo{}
	for _, n := range res.Nodes {
		if n.Ident != "" {
			byIdent[n.Ident] = n
		}
	}
	var out []tfProblem
	for _, d := range diags {
		if d.Severity != "error" {
			continue
		}
		p := tfProblem{Message: strings.Join(strings.Fields(d.Summary+": "+d.Detail), " ")}
		where := d.Address
		if d.Snippet != nil {
			where += " " + d.Snippet.Context
		}
		where += " " + d.Summary
		for _, m := range moduleNameRE.FindAllStringSubmatch(where, -1) {
			if n, ok := byIdent[m[1]]; ok {
				p.Node, p.Pos = n.Name, n.Pos
				break
			}
		}
		if p.Node == "" {
			// Our modules' own errors name the instance: "(server web-0)".
			best := ""
			for ident, n := range byIdent {
				if len(ident) > len(best) && regexp.MustCompile(`(^|[^A-Za-z0-9_-])`+regexp.QuoteMeta(ident)+`-[0-9]+\b`).MatchString(d.Detail) {
					best, p.Node, p.Pos = ident, n.Name, n.Pos
				}
			}
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		out = append(out, tfProblem{Message: "terraform failed without an error diagnostic"})
	}
	return out
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"orchestrator/modules"
	"orchestrator/tosca2tf"
)

func init() { extraCommands["tosca2tf"] = tosca2tfCommand }

// tosca2tfCommand translates a template on disk into a Terraform root module a
// user can run by hand. Exit codes: 0 ok, 1 invalid template, 2 usage.
func tosca2tfCommand(args []string) int {
	return runTosca2tf(args, os.Stdout, os.Stderr)
}

func runTosca2tf(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tosca2tf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "local", "target kind: local or openstack")
	out := fs.String("o", "", "output directory for main.tf.json, terraform.tfvars.json and modules/")
	check := fs.Bool("check", false, "only validate; print errors as file:line:col: message. With a Terraform at hand, the generated module is also run through terraform validate and plan (offline)")
	strict := fs.Bool("strict", false, "refuse nodes orchestrator would only record (orchestrator-side services such as an IAM client or a Marathon app)")
	noTerraform := fs.Bool("no-terraform", false, "with --check: check the template only, without running Terraform")
	tfPath := fs.String("terraform-path", "", "Terraform binary for --check (default: TOOLS_DIR/terraform-path, then a lookup)")
	toolsDir := fs.String("tools-dir", envOr("ORCHESTRATOR_TOOLS_DIR", ".tools"), "toolchain directory (Terraform and the provider mirror, from `make tools`)")
	targetConfig := fs.String("target-config", "", "JSON file with the target's configuration (flavors, images, networks)")
	var inputs, typesMap, allowFetch multiFlag
	fs.Var(&inputs, "input", "input value NAME=VALUE (VALUE is JSON when it parses as JSON, else a string; repeatable)")
	fs.Var(&typesMap, "types-map", "serve URL imports under URLPREFIX from DIR: URLPREFIX=DIR; a * in URLPREFIX matches any branch or tag, {ref} in DIR is replaced by it (repeatable)")
	fs.Var(&allowFetch, "allow-fetch", "allow fetching URL imports under this prefix over HTTP (repeatable)")
	fetchCache := fs.String("fetch-cache-dir", "", "where fetched imports are cached (default: the user's cache directory)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: orchestrator tosca2tf TEMPLATE [--target local|openstack] [--input k=v ...] [--types-map URLPREFIX=DIR ...] [--strict] (-o DIR | --check [--no-terraform])")
		fs.PrintDefaults()
	}
	if err := fs.Parse(reorderFlags(args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 1 || (*out == "" && !*check) {
		fs.Usage()
		return exitUsage
	}
	values, err := parseInputs(inputs)
	if err != nil {
		fmt.Fprintln(stderr, "orchestrator tosca2tf:", err)
		return exitUsage
	}
	resolver := &tosca2tf.Resolver{AllowLocal: true}
	for _, m := range typesMap {
		mapping, err := tosca2tf.ParseMapping(m)
		if err != nil {
			fmt.Fprintln(stderr, "orchestrator tosca2tf: --types-map:", err)
			return exitUsage
		}
		resolver.Mappings = append(resolver.Mappings, mapping)
	}
	if len(allowFetch) > 0 {
		cache := *fetchCache
		if cache == "" {
			if dir, err := os.UserCacheDir(); err == nil {
				cache = filepath.Join(dir, "orchestrator", "type-cache")
			}
		}
		resolver.Fetch = &tosca2tf.FetchConfig{Allow: allowFetch, CacheDir: cache}
	}
	var cfg map[string]any
	if *targetConfig != "" {
		data, err := os.ReadFile(*targetConfig)
		if err == nil {
			err = json.Unmarshal(data, &cfg)
		}
		if err != nil {
			fmt.Fprintln(stderr, "orchestrator tosca2tf: --target-config:", err)
			return exitUsage
		}
	}
	path := fs.Arg(0)
	content, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(stderr, "orchestrator tosca2tf:", err)
		return exitUsage
	}
	tmpl, err := tosca2tf.Parse(context.Background(), tosca2tf.Source{Name: path, Content: content, Path: path}, resolver)
	if err != nil {
		printTemplateErrors(stderr, err)
		return exitFailed
	}
	res, err := tosca2tf.Translate(tmpl, tosca2tf.Options{Target: *target, Inputs: values, Strict: *strict,
		DeploymentID: "local-" + strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), TargetConfig: cfg})
	if err != nil {
		printTemplateErrors(stderr, err)
		return exitFailed
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", w.Pos, w.Message)
	}
	if *check {
		how := "template checked; Terraform not run"
		if !*noTerraform {
			var ok bool
			if how, ok = checkWithTerraform(stderr, path, *tfPath, *toolsDir, *target, res); !ok {
				return exitFailed
			}
		}
		fmt.Fprintf(stdout, "%s: valid (%d nodes, target %s; %s)\n", path, len(res.Nodes), *target, how)
		return exitOK
	}
	if err := writeRootModule(*out, *target, res); err != nil {
		fmt.Fprintln(stderr, "orchestrator tosca2tf:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "wrote %s (main.tf.json, terraform.tfvars.json, modules/%s)\nrun: cd %s && terraform init && terraform apply\n", *out, *target, *out)
	return exitOK
}

// checkWithTerraform runs the generated module through Terraform when a
// toolchain is found; it prints what Terraform refused and says how far the
// check went.
func checkWithTerraform(stderr io.Writer, path, tfPath, toolsDir, target string, res *tosca2tf.Result) (string, bool) {
	ctx := context.Background()
	tc, cleanup, err := findToolchain(ctx, tfPath, toolsDir)
	if err != nil {
		fmt.Fprintf(stderr, "%s: note: Terraform not run, the template alone was checked: %v\n", path, err)
		return "template checked; no Terraform found", true
	}
	defer cleanup()
	problems, planned, err := terraformCheck(ctx, tc, target, res)
	if err != nil {
		fmt.Fprintln(stderr, "orchestrator tosca2tf:", err)
		return "", false
	}
	for _, p := range problems {
		if p.Node != "" {
			fmt.Fprintf(stderr, "%s: node %q: terraform: %s\n", p.Pos, p.Node, p.Message)
		} else {
			fmt.Fprintf(stderr, "%s: terraform: %s\n", path, p.Message)
		}
	}
	if len(problems) > 0 {
		return "", false
	}
	if !planned {
		return "terraform validate passed; the plan needs the cloud", true
	}
	return "terraform validate and plan passed", true
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func writeRootModule(dir, target string, res *tosca2tf.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf.json"), res.Main, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), res.Vars, 0o600); err != nil {
		return err
	}
	return modules.WriteTo(dir, target)
}

func printTemplateErrors(w io.Writer, err error) {
	var errs tosca2tf.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			if e.Field != "" {
				fmt.Fprintf(w, "%s: %s: %s\n", e.Pos, e.Field, e.Message)
				continue
			}
			fmt.Fprintf(w, "%s: %s\n", e.Pos, e.Message)
		}
		return
	}
	fmt.Fprintln(w, err)
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// parseInputs reads NAME=VALUE pairs; VALUE is JSON when it parses as JSON
// (2, true, ["a"]), and a string otherwise ("4 GB", ubuntu).
func parseInputs(pairs []string) (map[string]any, error) {
	out := map[string]any{}
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--input wants NAME=VALUE, got %q", p)
		}
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			v = value
		}
		out[name] = v
	}
	return out, nil
}

// reorderFlags moves flags before positional arguments, so "tosca2tf FILE -o DIR"
// works like "tosca2tf -o DIR FILE" (the standard flag package stops at FILE).
func reorderFlags(args []string) []string {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && !isBoolFlag(a) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		positional = append(positional, a)
	}
	return append(flags, positional...)
}

// isBoolFlag lists the boolean flags of every command (they take no value).
func isBoolFlag(a string) bool {
	name := strings.TrimLeft(a, "-")
	switch name {
	case "check", "wait", "f", "follow", "password-stdin", "hard", "force", "redeploy", "all", "offline", "help", "h", "quiet", "q", "json", "strict", "no-terraform":
		return true
	}
	return false
}

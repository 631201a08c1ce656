// Package tftest finds the Terraform toolchain `make tools` built, for tests that
// run real Terraform. It fails the test (never skips) when the toolchain is missing.
package tftest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orchestrator/jobs/toolchain"
)

// Toolchain is the Terraform binary, the provider mirror and a CLI config using it.
type Toolchain struct {
	Terraform    string
	ProvidersDir string
	CLIConfig    string
	// TC is the toolchain as the engine loads it.
	TC *toolchain.Toolchain
}

// ToolsDir is ORCHESTRATOR_TOOLS_DIR, or .tools at the repository root.
func ToolsDir(t testing.TB) string {
	if d := os.Getenv("ORCHESTRATOR_TOOLS_DIR"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	for dir := wd; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".tools")
		}
	}
	t.Fatal("no go.mod above the test directory")
	return ""
}

// Find locates the toolchain and writes a CLI config for it into a temp dir.
func Find(t testing.TB) Toolchain {
	t.Helper()
	tools := ToolsDir(t)
	ctx := context.Background()
	bin := ""
	if data, err := os.ReadFile(filepath.Join(tools, "terraform-path")); err == nil {
		bin = strings.TrimSpace(string(data))
	}
	if bin == "" {
		found, err := toolchain.FindTerraform(ctx, toolchain.FindOptions{ToolsDir: tools})
		if err != nil {
			t.Fatalf("no Terraform: run `make tools` first (%v)", err)
		}
		bin = found
	}
	tc, err := toolchain.Load(ctx, bin, filepath.Join(tools, "providers"), filepath.Join(t.TempDir(), "terraformrc"))
	if err != nil {
		t.Fatalf("toolchain: run `make tools` first (%v)", err)
	}
	return Toolchain{Terraform: bin, ProvidersDir: tc.ProvidersDir, CLIConfig: tc.CLIConfig, TC: tc}
}

// Env is an explicit environment for Terraform, never the test process's own.
func (tc Toolchain) Env(t testing.TB) []string {
	return []string{"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0", "TF_CLI_CONFIG_FILE=" + tc.CLIConfig,
		"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
}

// Run runs terraform in dir and fails the test with its output on error.
func (tc Toolchain) Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := tc.Try(t, dir, args...)
	if err != nil {
		t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Try runs terraform in dir and returns its output and error, for tests that
// expect a failure. At the test's deadline Terraform is interrupted first, so it
// releases its state lock, then killed.
func (tc Toolchain) Try(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout(t))
	defer cancel()
	cmd := exec.CommandContext(ctx, tc.Terraform, append(args, "-no-color")...)
	cmd.Dir, cmd.Env = dir, tc.Env(t)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", err, ctx.Err())
	}
	return string(out), err
}

// timeout leaves a little of the test's deadline to report a hung Terraform.
func timeout(t testing.TB) time.Duration {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			return max(time.Until(deadline)-5*time.Second, time.Second)
		}
	}
	return 5 * time.Minute
}

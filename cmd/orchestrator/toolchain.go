package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"orchestrator/jobs/toolchain"
)

// toolchainCommand runs the hc-install lookup the service runs at start and prints
// the Terraform path; exit 1 means "none found" (the Makefile then builds one).
func toolchainCommand(args []string) int {
	if len(args) == 0 || args[0] != "terraform" {
		fmt.Fprintln(os.Stderr, "usage: orchestrator toolchain terraform [--tools-dir DIR] [--offline]")
		return exitUsage
	}
	fs := newFlags("toolchain terraform")
	toolsDir := fs.String("tools-dir", ".tools", "toolchain directory (its bin/ is searched)")
	offline := fs.Bool("offline", false, "do not try releases.hashicorp.com")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path, err := toolchain.FindTerraform(ctx, toolchain.FindOptions{ToolsDir: *toolsDir, Releases: !*offline, ReleasesTimeout: 20 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "orchestrator:", err)
		return exitFailed
	}
	fmt.Println(path)
	return exitOK
}

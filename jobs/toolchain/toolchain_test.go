package toolchain_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orchestrator/jobs/toolchain"
	"orchestrator/jobs/toolchain/tftest"
)

// offlineEnv is an explicit environment in which any network access fails: the
// proxies point at a closed port and the CLI config only knows the mirror.
func offlineEnv(cliConfig string, home string) []string {
	return []string{
		"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_CLI_CONFIG_FILE=" + cliConfig, "HOME=" + home, "PATH=/usr/bin:/bin",
		"HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9", "NO_PROXY=",
	}
}

func terraform(t *testing.T, bin, dir string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestToolchainWorksOffline(t *testing.T) {
	tools := tftest.ToolsDir(t)
	ctx := context.Background()
	bin, err := toolchain.FindTerraform(ctx, toolchain.FindOptions{ToolsDir: tools})
	if err != nil {
		t.Fatalf("run `make tools` first: %v", err)
	}
	tmp := t.TempDir()
	tc, err := toolchain.Load(ctx, bin, filepath.Join(tools, "providers"), filepath.Join(tmp, "terraformrc"))
	if err != nil {
		t.Fatalf("run `make tools` first: %v", err)
	}
	want := map[string]bool{
		"registry.terraform.io/hashicorp/local": true, "registry.terraform.io/hashicorp/random": true,
		"registry.terraform.io/hashicorp/tls": true, "registry.terraform.io/terraform-provider-openstack/openstack": true,
	}
	for _, p := range tc.Providers {
		delete(want, p.Source)
	}
	if len(want) > 0 {
		t.Fatalf("mirror lacks %v", want)
	}
	cfg, _ := os.ReadFile(tc.CLIConfig)
	if !strings.Contains(string(cfg), "filesystem_mirror") || strings.Contains(string(cfg), "direct") {
		t.Fatalf("CLI config must only use the mirror:\n%s", cfg)
	}
	env := offlineEnv(tc.CLIConfig, tmp)

	t.Run("local random tls terraform_data: init and apply", func(t *testing.T) {
		dir := filepath.Join(tmp, "apply")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`
terraform {
  required_providers {
    local  = { source = "hashicorp/local", version = "~> 2.5" }
    random = { source = "hashicorp/random", version = "~> 3.6" }
    tls    = { source = "hashicorp/tls", version = "~> 4.0" }
  }
}
resource "random_pet" "name" {}
resource "tls_private_key" "key" { algorithm = "ED25519" }
resource "terraform_data" "server" { input = { name = random_pet.name.id, key = tls_private_key.key.public_key_openssh } }
resource "local_file" "out" {
  filename = "${path.module}/server.txt"
  content  = terraform_data.server.output.name
}
output "name" { value = terraform_data.server.output.name }
`), 0o644)
		terraform(t, bin, dir, env, "init", "-input=false", "-no-color")
		out := terraform(t, bin, dir, env, "apply", "-auto-approve", "-input=false", "-no-color")
		if !strings.Contains(out, "4 added") {
			t.Fatalf("apply did not add 4 resources:\n%s", out)
		}
		data, err := os.ReadFile(filepath.Join(dir, "server.txt"))
		if err != nil || len(data) == 0 {
			t.Fatalf("local_file not written: %v", err)
		}
		// .terraform only links into the mirror: nothing was downloaded.
		link, err := os.Readlink(filepath.Join(dir, ".terraform/providers/registry.terraform.io/hashicorp/random/3.9.0/linux_amd64"))
		// The tools dir may itself be a symlink (a worktree sharing the main one's).
		mirror, _ := filepath.EvalSymlinks(tc.ProvidersDir)
		if err != nil || !(strings.HasPrefix(link, tc.ProvidersDir) || strings.HasPrefix(link, mirror)) {
			t.Fatalf("provider is not a link into the mirror: %q %v", link, err)
		}
	})

	t.Run("openstack: init and validate", func(t *testing.T) {
		dir := filepath.Join(tmp, "validate")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`
terraform {
  required_providers {
    openstack = { source = "terraform-provider-openstack/openstack", version = "~> 3.4" }
  }
}
resource "openstack_networking_network_v2" "net" { name = "net" }
resource "openstack_compute_instance_v2" "vm" {
  name        = "vm"
  flavor_name = "m1.small"
  image_name  = "ubuntu-24.04"
  network { uuid = openstack_networking_network_v2.net.id }
}
`), 0o644)
		terraform(t, bin, dir, env, "init", "-input=false", "-no-color")
		out := terraform(t, bin, dir, env, "validate", "-no-color")
		if !strings.Contains(out, "The configuration is valid") {
			t.Fatalf("validate:\n%s", out)
		}
	})
}

func TestCLIConfigHasOnlyTheMirror(t *testing.T) {
	cfg := toolchain.CLIConfig("/srv/mirror")
	if !strings.Contains(cfg, `path    = "/srv/mirror"`) || strings.Contains(cfg, "direct") || strings.Contains(cfg, "plugin_cache_dir") {
		t.Fatalf("unexpected CLI config:\n%s", cfg)
	}
}

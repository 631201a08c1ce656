// Package toolchain finds the Terraform binary and the provider mirror the service
// runs with, and writes the CLI configuration that keeps Terraform offline. It never
// downloads a provider; Terraform itself comes from the filesystem first and from
// the releases site only when asked (machines with internet).
package toolchain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-version"
	install "github.com/hashicorp/hc-install"
	"github.com/hashicorp/hc-install/fs"
	"github.com/hashicorp/hc-install/product"
	"github.com/hashicorp/hc-install/releases"
	"github.com/hashicorp/hc-install/src"
	"github.com/hashicorp/terraform-exec/tfexec"
)

// PinnedVersion is the Terraform version we build from source when none is found.
const PinnedVersion = "1.5.7"

// MinVersion is the oldest Terraform our generated configurations work with
// (terraform_data, optional object attributes, check blocks).
const MinVersion = ">= 1.5"

// FindOptions says where to look for Terraform.
type FindOptions struct {
	ToolsDir string // its bin/ is searched besides PATH
	// Releases allows installing the pinned version from releases.hashicorp.com
	// into ToolsDir/bin when nothing is found locally.
	Releases bool
	// ReleasesTimeout bounds the download attempt (no network fails slowly otherwise).
	ReleasesTimeout time.Duration
}

// FindTerraform runs the hc-install lookup: the pinned version in ToolsDir/bin or
// PATH, then any version >= 1.5 there, then (if allowed) the pinned release.
func FindTerraform(ctx context.Context, o FindOptions) (string, error) {
	pinned := version.Must(version.NewVersion(PinnedVersion))
	extra := []string{}
	if o.ToolsDir != "" {
		extra = append(extra, filepath.Join(o.ToolsDir, "bin"))
	}
	sources := []src.Source{}
	// hc-install searches PATH before ExtraPaths; the tools dir goes first through
	// an exact path so a pinned build there wins over whatever PATH holds.
	if o.ToolsDir != "" {
		// Only a build there that satisfies MinVersion is taken.
		if p := filepath.Join(o.ToolsDir, "bin", "terraform"); isExecutable(p) && satisfies(ctx, p) {
			sources = append(sources, &fs.AnyVersion{ExactBinPath: p})
		}
	}
	sources = append(sources,
		&fs.ExactVersion{Product: product.Terraform, Version: pinned, ExtraPaths: extra, Timeout: 10 * time.Second},
		&fs.Version{Product: product.Terraform, Constraints: version.MustConstraints(version.NewConstraint(MinVersion)),
			ExtraPaths: extra, Timeout: 10 * time.Second},
	)
	if o.Releases && o.ToolsDir != "" {
		timeout := o.ReleasesTimeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		if err := os.MkdirAll(filepath.Join(o.ToolsDir, "bin"), 0o755); err != nil {
			return "", fmt.Errorf("create %s: %w", filepath.Join(o.ToolsDir, "bin"), err)
		}
		sources = append(sources, &releases.ExactVersion{Product: product.Terraform, Version: pinned,
			InstallDir: filepath.Join(o.ToolsDir, "bin"), Timeout: timeout})
	}
	path, err := install.NewInstaller().Ensure(ctx, sources)
	if err != nil {
		return "", fmt.Errorf("find terraform (%s, pinned %s): %w", MinVersion, PinnedVersion, err)
	}
	return path, nil
}

func satisfies(ctx context.Context, path string) bool {
	v, err := Version(ctx, path)
	return err == nil && version.MustConstraints(version.NewConstraint(MinVersion)).Check(v)
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Version asks a Terraform binary for its version.
func Version(ctx context.Context, terraformPath string) (*version.Version, error) {
	tf, err := tfexec.NewTerraform(os.TempDir(), terraformPath)
	if err != nil {
		return nil, fmt.Errorf("terraform at %s: %w", terraformPath, err)
	}
	if err := tf.SetEnv(map[string]string{"CHECKPOINT_DISABLE": "1", "HOME": os.TempDir(), "PATH": "/usr/bin:/bin"}); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, _, err := tf.Version(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("terraform version of %s: %w", terraformPath, err)
	}
	return v, nil
}

// Provider is one provider in the filesystem mirror.
type Provider struct {
	Source  string `json:"source"` // e.g. registry.terraform.io/hashicorp/random
	Version string `json:"version"`
}

// Providers lists the providers in an unpacked filesystem mirror
// (HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/terraform-provider-TYPE_vVERSION).
func Providers(mirror string) ([]Provider, error) {
	matches, err := filepath.Glob(filepath.Join(mirror, "*", "*", "*", "*", "*", "terraform-provider-*"))
	if err != nil {
		return nil, fmt.Errorf("read provider mirror %s: %w", mirror, err)
	}
	var list []Provider
	for _, m := range matches {
		rel, err := filepath.Rel(mirror, m)
		if err != nil {
			continue
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 6 || !isExecutable(m) {
			continue
		}
		list = append(list, Provider{Source: strings.Join(parts[0:3], "/"), Version: parts[3]})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Source < list[j].Source })
	if len(list) == 0 {
		return nil, errors.New("no providers in the mirror " + mirror + " (run `make tools`)")
	}
	return list, nil
}

// CLIConfig is the Terraform CLI configuration that installs providers only from
// the filesystem mirror: no registry, no network, no shared plugin cache.
func CLIConfig(mirror string) string {
	return fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path    = %q\n    include = [\"registry.terraform.io/*/*\"]\n  }\n}\n", mirror)
}

// WriteCLIConfig writes CLIConfig(mirror) to path.
func WriteCLIConfig(path, mirror string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write terraform CLI config: %w", err)
	}
	if err := os.WriteFile(path, []byte(CLIConfig(mirror)), 0o644); err != nil {
		return fmt.Errorf("write terraform CLI config: %w", err)
	}
	return nil
}

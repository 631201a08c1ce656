// Package modules holds our Terraform modules, one folder per target and node
// kind, embedded in the binary. A deployment's workdir gets a copy of its target's
// modules, and the generated root module calls them by relative path.
package modules

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
)

// FS holds every module, paths like "local/compute/main.tf".
//
//go:embed local openstack
var FS embed.FS

// Kind is what a module deploys.
type Kind string

// Module kinds.
const (
	Compute          Kind = "compute"
	BlockStorage     Kind = "block_storage"
	VolumeAttachment Kind = "volume_attachment"
	Network          Kind = "network"
	Port             Kind = "port"
	ObjectStorage    Kind = "object_storage"
)

// Requirement is a provider a target's modules need (for required_providers).
type Requirement struct {
	Source  string
	Version string
}

var providers = map[string]map[string]Requirement{
	"local": {
		"random": {Source: "hashicorp/random", Version: "~> 3.6"},
		"tls":    {Source: "hashicorp/tls", Version: "~> 4.0"},
	},
	"openstack": {
		"openstack": {Source: "terraform-provider-openstack/openstack", Version: "~> 3.4"},
	},
}

// Targets lists the target kinds that have modules.
func Targets() []string {
	out := make([]string, 0, len(providers))
	for t := range providers {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Supports reports whether a target has a module for a kind.
func Supports(target string, kind Kind) bool {
	_, err := fs.Stat(FS, path.Join(target, string(kind), "main.tf"))
	return err == nil
}

// Source is the module source a root module in a workdir uses.
func Source(target string, kind Kind) string {
	return "./modules/" + target + "/" + string(kind)
}

// Providers lists the providers a target's modules need.
func Providers(target string) map[string]Requirement {
	out := map[string]Requirement{}
	for k, v := range providers[target] {
		out[k] = v
	}
	return out
}

// WriteTo writes the target's modules under dir/modules/<target>/.
func WriteTo(dir, target string) error {
	if _, ok := providers[target]; !ok {
		return fmt.Errorf("no modules for target %q", target)
	}
	return fs.WalkDir(FS, target, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, "modules", filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := FS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}

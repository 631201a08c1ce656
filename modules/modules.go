// Package modules holds our Terraform modules, one folder per target and node
// kind, embedded in the binary. A deployment's workdir gets a copy of its
// target's modules under ./modules/, and the generated root module calls them by
// relative path (Source). The contract between the translator and the modules
// is README.md; this package only stores and copies them.
package modules

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"sync"
)

// FS holds every module, paths like "local/compute/main.tf". Module folders are
// listed one by one: modules/openstack/ossim is the tests' OpenStack simulator,
// a Go package that must never reach the binary or a workdir.
//
//go:embed local/compute local/block_storage local/volume_attachment local/network local/port local/object_storage local/software
//go:embed openstack/compute openstack/block_storage openstack/volume_attachment openstack/network openstack/port openstack/object_storage openstack/software
//go:embed hostpool/compute hostpool/software
var FS embed.FS

// Kind is what a module deploys; one TOSCA normative type maps to one kind.
type Kind string

// Module kinds.
const (
	Compute          Kind = "compute"
	BlockStorage     Kind = "block_storage"
	VolumeAttachment Kind = "volume_attachment"
	Network          Kind = "network"
	Port             Kind = "port"
	ObjectStorage    Kind = "object_storage"
	// Software is the configuration payload of the software a Compute hosts.
	Software Kind = "software"
)

// Kinds lists every module kind.
func Kinds() []Kind {
	return []Kind{Compute, BlockStorage, VolumeAttachment, Network, Port, ObjectStorage, Software}
}

// Requirement is a provider a target's modules need, for the root module's
// required_providers.
type Requirement struct {
	Source, Version string
}

// providers are the providers each target's modules declare; a target is a
// top-level folder of FS with an entry here.
var providers = map[string]map[string]Requirement{
	"local": {
		"random": {Source: "hashicorp/random", Version: "~> 3.6"},
		"tls":    {Source: "hashicorp/tls", Version: "~> 4.0"},
	},
	"openstack": {
		"openstack": {Source: "terraform-provider-openstack/openstack", Version: "~> 3.4"},
	},
	// Existing machines reached over SSH: the modules only record allocations.
	"hostpool": {},
}

// partial targets have modules for some kinds only (a host pool has servers and
// nothing else); the translator refuses the other kinds, naming the node.
var partial = map[string]bool{"hostpool": true}

// Partial reports whether target has modules for some kinds only.
func Partial(target string) bool { return partial[target] }

// Targets lists the target kinds that have modules, sorted.
func Targets() []string {
	out := make([]string, 0, len(providers))
	for t := range providers {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Supports reports whether target has a module for kind.
func Supports(target string, kind Kind) bool {
	if _, ok := providers[target]; !ok || !slices.Contains(Kinds(), kind) {
		return false
	}
	_, err := fs.Stat(FS, path.Join(target, string(kind), "main.tf"))
	return err == nil
}

// Source is the module source a root module in a workdir uses, such as
// "./modules/local/compute".
func Source(target string, kind Kind) string {
	return "./modules/" + target + "/" + string(kind)
}

// Providers lists the providers a target's modules need, by local name. The map
// is the caller's to change.
func Providers(target string) map[string]Requirement {
	out := map[string]Requirement{}
	for name, req := range providers[target] {
		out[name] = req
	}
	return out
}

// WriteTo writes target's modules under dir/modules/<target>/ (files 0644,
// directories 0755), leaving other targets' modules out. Existing files are
// overwritten; files that are no longer part of a module are not removed.
func WriteTo(dir, target string) error {
	if _, ok := providers[target]; !ok {
		return fmt.Errorf("write modules: no modules for target %q", target)
	}
	err := fs.WalkDir(FS, target, func(p string, d fs.DirEntry, err error) error {
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
	if err != nil {
		return fmt.Errorf("write %s modules to %s: %w", target, dir, err)
	}
	return nil
}

var digests sync.Map // target -> string

// Digest is a fingerprint of a target's modules as this binary holds them: what
// was initialized for one version of the modules is not reused for another.
func Digest(target string) string {
	if d, ok := digests.Load(target); ok {
		return d.(string)
	}
	h := sha256.New()
	_ = fs.WalkDir(FS, target, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := FS.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(data))
		h.Write(data)
		return nil
	})
	d := hex.EncodeToString(h.Sum(nil))
	digests.Store(target, d)
	return d
}

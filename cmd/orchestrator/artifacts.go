package main

import (
	"fmt"
	"path/filepath"

	"orchestrator/examples"
	"orchestrator/jobs"
	"orchestrator/jobs/configure"
	"orchestrator/jobs/toolchain"
)

// toolchainStatus adds software configuration's availability to what /readyz
// reports of the toolchain.
type toolchainStatus struct{ *toolchain.Toolchain }

// Configuration is "ok", or why playbooks cannot run here.
func (toolchainStatus) Configuration() string { return jobs.ConfigurationStatus() }

// newArtifactResolver configures where software configuration finds playbooks,
// scripts and Galaxy roles: the --artifacts-map prefixes, the --artifacts-dir
// directories for relative paths, then the examples' own artifacts (written
// under DATA_DIR/artifacts at every start, as examples/<name>/...), and
// fetching only under --artifacts-allow-fetch prefixes.
func newArtifactResolver(cfg *serveConfig) (*configure.Resolver, error) {
	r := &configure.Resolver{FetchAllow: cfg.ArtifactsAllowFetch, CacheDir: filepath.Join(cfg.DataDir, "artifact-cache")}
	for _, m := range cfg.ArtifactsMap {
		mapping, err := configure.ParseMapping(m)
		if err != nil {
			return nil, fmt.Errorf("--artifacts-map: %w", err)
		}
		r.Maps = append(r.Maps, mapping)
	}
	r.Dirs = append(r.Dirs, cfg.ArtifactsDirs...)
	builtin := filepath.Join(cfg.DataDir, "artifacts")
	if err := examples.WriteArtifacts(builtin); err != nil {
		return nil, fmt.Errorf("write the examples' artifacts: %w", err)
	}
	r.Dirs = append(r.Dirs, builtin)
	return r, nil
}

package modules

import (
	"testing"

	"orchestrator/jobs/toolchain/tftest"
)

// A template's os version 18.0 reaches the module as "18" (YAML reads a
// number); catalogs write "18.0" or "9": versions match without trailing ".0"
// parts, and only then.
func TestCatalogVersionsMatchWithoutTrailingZeros(t *testing.T) {
	target := map[string]any{"images": []any{
		map[string]any{"name": "fedora-18", "distribution": "fedora", "version": "18.0"},
		map[string]any{"name": "rocky-9", "distribution": "rocky", "version": "9"},
		map[string]any{"name": "ubuntu-16.04", "distribution": "ubuntu", "version": "16.04"},
		map[string]any{"name": "ubuntu-any", "distribution": "ubuntu"},
	}}
	tests := []struct {
		os    map[string]any
		image string
	}{
		{map[string]any{"distribution": "fedora", "version": "18"}, "fedora-18"},
		{map[string]any{"distribution": "fedora", "version": "18.0.0"}, "fedora-18"},
		{map[string]any{"distribution": "rocky", "version": "9.0"}, "rocky-9"},
		{map[string]any{"distribution": "ubuntu", "version": "16.04"}, "ubuntu-16.04"},
		{map[string]any{"distribution": "ubuntu", "version": "16.4"}, "ubuntu-any"},
	}
	calls := map[string]any{}
	for i, tt := range tests {
		calls[ident(i)] = call("local", Compute, 1, ident(i), map[string]any{"target": target, "os": tt.os})
	}
	tc := tftest.Find(t)
	dir := writeRoot(t, "local", calls, nil)
	tc.Run(t, dir, "init", "-input=false", "-no-color")
	tc.Run(t, dir, "apply", "-auto-approve", "-input=false", "-no-color")
	rs := resources(t, tc, dir)
	for i, tt := range tests {
		if got := rs[ident(i)][0].Attributes["image"]; got != tt.image {
			t.Errorf("os %v: image %v, want %s", tt.os, got, tt.image)
		}
	}
}

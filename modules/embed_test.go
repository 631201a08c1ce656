package modules

import (
	"io/fs"
	"path"
	"strings"
	"testing"
)

// The embedded tree is modules only: the OpenStack simulator's Go package
// (modules/openstack/ossim) lives beside them but must never be embedded in the
// binary nor copied into a workdir.
func TestFSHoldsOnlyModules(t *testing.T) {
	n := 0
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		if strings.Contains(p, "ossim") || (path.Ext(p) != ".tf" && path.Base(p) != "README.md") {
			t.Errorf("embedded %s, which is not a module file", p)
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walk: %v (%d files)", err, n)
	}
}

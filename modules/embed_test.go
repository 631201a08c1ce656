package modules

import (
	"io/fs"
	"os"
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
		moduleFile := path.Ext(p) == ".tf" || path.Ext(p) == ".sh" || path.Base(p) == "README.md"
		if strings.Contains(p, "ossim") || !moduleFile {
			t.Errorf("embedded %s, which is not a module file", p)
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walk: %v (%d files)", err, n)
	}
}

// The embed directive lists module folders one by one; a module added on disk
// but not to the list would be missing from every workdir.
func TestFSHoldsEveryModuleOnDisk(t *testing.T) {
	for target := range providers {
		entries, err := os.ReadDir(target)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			if _, err := os.Stat(path.Join(target, e.Name(), "main.tf")); err != nil {
				continue
			}
			if _, err := fs.Stat(FS, path.Join(target, e.Name(), "main.tf")); err != nil {
				t.Errorf("module %s/%s is on disk but not embedded: add it to the go:embed list in modules.go", target, e.Name())
			}
		}
	}
}

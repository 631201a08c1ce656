// Package examples holds the example templates we wrote, embedded so that `serve`
// can load them into an empty catalog.
package examples

import (
	"embed"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
)

//go:embed */template.yaml */README.md
var files embed.FS

// artifacts are the playbooks and scripts the examples' operations run.
//
//go:embed */artifacts
var artifacts embed.FS

// WriteArtifacts writes every example's artifacts under dir as
// examples/<name>/artifacts/..., the relative paths the example templates use.
func WriteArtifacts(dir string) error {
	return fs.WalkDir(artifacts, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, "examples", filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := artifacts.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}

// Example is one example template.
type Example struct {
	Name    string // the directory name, e.g. single-vm
	Content string // the TOSCA YAML
	README  string
}

// All returns every example, by name.
func All() ([]Example, error) {
	dirs, err := fs.Glob(files, "*/template.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(dirs)
	var out []Example
	for _, p := range dirs {
		name := path.Dir(p)
		content, err := files.ReadFile(p)
		if err != nil {
			return nil, err
		}
		readme, _ := files.ReadFile(path.Join(name, "README.md"))
		out = append(out, Example{Name: name, Content: string(content), README: string(readme)})
	}
	return out, nil
}

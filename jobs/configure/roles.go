package configure

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Role is an Ansible Galaxy role artifact resolved to a local directory.
type Role struct {
	Name    string // as the template names it, e.g. indigo-dc.docker
	Version string // as written after the comma, recorded only
	Dir     string
}

// InstallRoles installs roles with ansible-galaxy into rolesPath (the
// deployment's own): each directory is packed into an archive that
// ansible-galaxy installs from a file:// source, so Galaxy's servers are never
// asked.
func (s *Session) InstallRoles(ctx context.Context, roles []Role, rolesPath string, sink Sink) error {
	if len(roles) == 0 {
		return nil
	}
	if err := os.MkdirAll(rolesPath, 0o700); err != nil {
		return err
	}
	work, err := os.MkdirTemp(s.Dir, "roles-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var req strings.Builder
	for i, r := range roles {
		if !aliasRe.MatchString(r.Name) {
			return fmt.Errorf("role name %q is not a plain name", r.Name)
		}
		archive := filepath.Join(work, fmt.Sprintf("role-%d.tar.gz", i))
		if err := packDir(r.Dir, r.Name, archive); err != nil {
			return fmt.Errorf("pack role %s: %w", r.Name, err)
		}
		fmt.Fprintf(&req, "- src: %q\n  name: %q\n", "file://"+archive, r.Name)
	}
	reqPath := filepath.Join(work, "requirements.yml")
	if err := os.WriteFile(reqPath, []byte(req.String()), 0o600); err != nil {
		return err
	}
	cfgPath, err := s.ansibleConfig(rolesPath)
	if err != nil {
		return err
	}
	cmd := exec.Command("ansible-galaxy", "role", "install", "--force", "-p", rolesPath, "-r", reqPath)
	cmd.Dir = work
	cmd.Env = s.env("ANSIBLE_CONFIG="+cfgPath, "ANSIBLE_NOCOLOR=1")
	var tail []string
	line := func(level string) func(string) {
		return func(l string) {
			if l = strings.TrimSpace(l); l != "" {
				tail = append(tail, l)
				sink(Line{Level: level, Message: "ansible-galaxy: " + l})
			}
		}
	}
	if err := runGroup(ctx, cmd, line("info"), line("warn")); err != nil {
		if len(tail) > 3 {
			tail = tail[len(tail)-3:]
		}
		return fmt.Errorf("ansible-galaxy role install: %w: %s", err, strings.Join(tail, " | "))
	}
	return nil
}

// packDir writes dir as a .tar.gz whose single top directory is name, the
// layout ansible-galaxy expects of a role archive. Symbolic links are skipped.
func packDir(dir, name, dest string) error {
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 || (!d.IsDir() && !d.Type().IsRegular()) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(filepath.Join(name, rel))
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

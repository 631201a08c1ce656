package jobs

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// The init cache. `terraform init` in a new workdir cost about as much as the
// rest of the engine's bookkeeping for a whole run (~180 ms of a one-VM create),
// and it produces the same few files for every deployment of the same shape: the
// dependency lock file, the module manifest and links into the provider mirror.
// The first workdir of a shape runs init and leaves those files in
// DATA_DIR/init-cache/<key>/; the next ones copy them. The key covers all init
// reads: the Terraform version, the target, the root module's providers and
// module calls, our modules as this binary holds them, and the mirror's
// contents; anything else makes a new key, so a reused init is the init that
// would have run.

// initCacheFiles are what init leaves in a workdir, relative to it.
var initCacheFiles = []string{".terraform.lock.hcl", filepath.Join(".terraform", "modules"), filepath.Join(".terraform", "providers")}

func (e *Engine) initCacheDir(key string) string {
	return filepath.Join(e.cfg.DataDir, "init-cache", key)
}

// reuseInit gives dir the files of an earlier init with the same key; false
// when there is none (or it could not be copied: init then runs).
func (e *Engine) reuseInit(dir, key string) bool {
	src := e.initCacheDir(key)
	if _, err := os.Stat(filepath.Join(src, ".terraform", "modules", "modules.json")); err != nil {
		return false
	}
	for _, f := range initCacheFiles {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	if err := copyTree(src, dir); err != nil {
		e.log.Warn("reuse cached terraform init", "key", key, "error", err.Error())
		for _, f := range initCacheFiles {
			_ = os.RemoveAll(filepath.Join(dir, f))
		}
		return false
	}
	return true
}

// saveInit keeps what init left in dir under key, unless a copy is there
// already. Workers racing on the same key each build their own copy and the
// first rename wins.
func (e *Engine) saveInit(dir, key string) {
	dst := e.initCacheDir(key)
	if _, err := os.Stat(dst); err == nil {
		return
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	tmp := dst + ".tmp-" + hex.EncodeToString(suffix[:])
	err := func() error {
		for _, f := range initCacheFiles {
			src := filepath.Join(dir, f)
			if _, err := os.Lstat(src); os.IsNotExist(err) {
				continue // no providers: no lock file either
			}
			if err := copyTree(src, filepath.Join(tmp, f)); err != nil {
				return err
			}
		}
		return os.Rename(tmp, dst)
	}()
	if err != nil {
		_ = os.RemoveAll(tmp)
		if _, statErr := os.Stat(dst); statErr != nil {
			e.log.Warn("keep terraform init for reuse", "key", key, "error", err.Error())
		}
	}
}

// copyTree copies src (a file or a directory) to dst: links stay links (the
// providers point into the mirror), small files (the lock file, the module
// manifest) are copied so a workdir never writes into the cache, and big ones
// (providers unpacked from a packed mirror, never written in place) are
// hard-linked when they can be.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		default:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return err
			}
			if info, err := d.Info(); err == nil && info.Size() > 1<<20 && os.Link(p, target) == nil {
				return nil
			}
			return copyFile(p, target)
		}
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// mirrorFingerprint sums the provider mirror's file names, sizes and times: a
// rebuilt mirror (other checksums in the lock file) gets new init keys.
func (e *Engine) mirrorFingerprint() string {
	e.mirrorOnce.Do(func() {
		var lines []string
		_ = filepath.WalkDir(e.tc.ProvidersDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if info, err := d.Info(); err == nil {
				lines = append(lines, fmt.Sprintf("%s %d %d", p, info.Size(), info.ModTime().UnixNano()))
			}
			return nil
		})
		sort.Strings(lines)
		h := sha256.New()
		fmt.Fprintf(h, "%s\n%s\n", e.tc.ProvidersDir, e.tc.CLIConfig)
		for _, l := range lines {
			fmt.Fprintln(h, l)
		}
		e.mirror = hex.EncodeToString(h.Sum(nil))[:16]
	})
	return e.mirror
}

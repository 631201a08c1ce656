package configure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Mapping serves artifacts whose reference starts with Prefix from the local
// directory Dir: a URL prefix of a playbook repository
// ("https://raw.githubusercontent.com/indigo-dc/tosca-types/master/artifacts/"),
// or a Galaxy role name or name prefix ("indigo-dc." -> a directory of roles,
// each in a subdirectory named by the rest of the role name).
type Mapping struct {
	Prefix string
	Dir    string
}

// ParseMapping reads PREFIX=DIR (the last "=" separates: URLs may contain one).
func ParseMapping(s string) (Mapping, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 || i == len(s)-1 {
		return Mapping{}, fmt.Errorf("want PREFIX=DIR, got %q", s)
	}
	return Mapping{Prefix: s[:i], Dir: s[i+1:]}, nil
}

// Resolver finds the files and roles that operations name.
type Resolver struct {
	Maps []Mapping
	// Dirs are searched, in order, for paths relative to the template (the
	// template's own directory first when it has one).
	Dirs []string
	// FetchAllow lists URL prefixes whose artifacts may be fetched over HTTP
	// (off when empty); each is bounded by FetchMaxBytes and FetchTimeout and
	// cached in CacheDir.
	FetchAllow    []string
	FetchMaxBytes int64
	FetchTimeout  time.Duration
	CacheDir      string
	Client        *http.Client

	mu sync.Mutex
}

// ResolveError says why an artifact cannot be found.
type ResolveError struct {
	Ref    string
	Reason string
}

func (e *ResolveError) Error() string { return fmt.Sprintf("cannot resolve %s: %s", e.Ref, e.Reason) }

// File returns a local path for an implementation or artifact file: a URL
// through the maps or the fetch allow-list, a relative path through base (the
// template's directory, may be "") and Dirs. Paths never leave their directory.
func (r *Resolver) File(ctx context.Context, ref, base string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", &ResolveError{Ref: `""`, Reason: "empty reference"}
	}
	if u, err := url.Parse(ref); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		if u.Scheme != "http" && u.Scheme != "https" {
			return "", &ResolveError{Ref: ref, Reason: "only http and https URLs are supported"}
		}
		if p, ok, err := r.mapped(ref); ok || err != nil {
			return p, err
		}
		if r.allowed(ref) {
			return r.fetch(ctx, ref)
		}
		return "", &ResolveError{Ref: ref, Reason: "no --artifacts-map prefix serves it and fetching it is not allowed"}
	}
	if filepath.IsAbs(ref) {
		return "", &ResolveError{Ref: ref, Reason: "absolute paths are not allowed; write it relative to the template or as a URL"}
	}
	if p, ok, err := r.mapped(ref); ok || err != nil {
		return p, err
	}
	rel := path.Clean("/" + filepath.ToSlash(ref))
	dirs := r.Dirs
	if base != "" {
		dirs = append([]string{base}, dirs...)
	}
	for _, d := range dirs {
		p := filepath.Join(d, filepath.FromSlash(rel))
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	if len(dirs) == 0 {
		return "", &ResolveError{Ref: ref, Reason: "a relative path needs the template's directory or an --artifacts-dir"}
	}
	return "", &ResolveError{Ref: ref, Reason: "not found relative to the template nor in any --artifacts-dir"}
}

// mapped looks ref up in the maps; ok says a map matched.
func (r *Resolver) mapped(ref string) (string, bool, error) {
	for _, m := range r.Maps {
		if !strings.HasPrefix(ref, m.Prefix) {
			continue
		}
		rest := strings.TrimPrefix(ref, m.Prefix)
		if i := strings.IndexAny(rest, "?#"); i >= 0 {
			rest = rest[:i]
		}
		p := filepath.Join(m.Dir, filepath.FromSlash(path.Clean("/"+rest)))
		if _, err := os.Stat(p); err != nil {
			return "", true, &ResolveError{Ref: ref, Reason: fmt.Sprintf("mapped to %s, which does not exist", p)}
		}
		return p, true, nil
	}
	return "", false, nil
}

// Role resolves a Galaxy role artifact, written "name" or "name,version"
// (tosca.artifacts.AnsibleGalaxy.role), through the maps.
func (r *Resolver) Role(spec string) (Role, error) {
	name, version, _ := strings.Cut(strings.TrimSpace(spec), ",")
	name, version = strings.TrimSpace(name), strings.TrimSpace(version)
	if !aliasRe.MatchString(name) {
		return Role{}, &ResolveError{Ref: spec, Reason: "not a Galaxy role name"}
	}
	p, ok, err := r.mapped(name)
	if err != nil {
		return Role{}, err
	}
	if !ok {
		return Role{}, &ResolveError{Ref: spec, Reason: "no --artifacts-map entry serves this Galaxy role (e.g. " + roleNamespace(name) + "=/srv/roles/)"}
	}
	if st, err := os.Stat(p); err != nil || !st.IsDir() {
		return Role{}, &ResolveError{Ref: spec, Reason: fmt.Sprintf("mapped to %s, which is not a directory", p)}
	}
	return Role{Name: name, Version: version, Dir: p}, nil
}

func roleNamespace(name string) string {
	if i := strings.Index(name, "."); i > 0 {
		return name[:i+1]
	}
	return name
}

func (r *Resolver) allowed(raw string) bool {
	for _, a := range r.FetchAllow {
		if a != "" && strings.HasPrefix(raw, a) {
			return true
		}
	}
	return false
}

// fetch downloads raw once into the cache (bounded in size and time) and
// returns the cached path; later calls use the cached copy.
func (r *Resolver) fetch(ctx context.Context, raw string) (string, error) {
	if r.CacheDir == "" {
		return "", &ResolveError{Ref: raw, Reason: "fetching needs a cache directory"}
	}
	sum := sha256.Sum256([]byte(raw))
	name := path.Base(strings.SplitN(raw, "?", 2)[0])
	if name == "" || name == "/" || name == "." || strings.ContainsAny(name, `\`) {
		name = "artifact"
	}
	dir := filepath.Join(r.CacheDir, hex.EncodeToString(sum[:12]))
	p := filepath.Join(dir, name)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	limit, timeout := r.FetchMaxBytes, r.FetchTimeout
	if limit <= 0 {
		limit = 4 << 20
	}
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	client := r.Client
	if client == nil {
		client = &http.Client{}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return "", &ResolveError{Ref: raw, Reason: err.Error()}
	}
	res, err := client.Do(req)
	if err != nil {
		return "", &ResolveError{Ref: raw, Reason: "fetch: " + err.Error()}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", &ResolveError{Ref: raw, Reason: fmt.Sprintf("fetch: HTTP %d", res.StatusCode)}
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return "", &ResolveError{Ref: raw, Reason: "fetch: " + err.Error()}
	}
	if int64(len(data)) > limit {
		return "", &ResolveError{Ref: raw, Reason: fmt.Sprintf("larger than %d bytes", limit)}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return "", err
	}
	return p, os.Rename(tmp, p)
}

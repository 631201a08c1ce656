package tosca2tf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// Mapping serves URL imports under Prefix from the local directory Dir (a type
// library), so templates that import from GitHub or GitLab work offline.
//
// Type libraries are imported at many branches and tags (master, devel, v3.4.0):
// a "*" in Prefix stands for one path segment, so one mapping serves every ref,
// e.g. "https://raw.githubusercontent.com/indigo-dc/tosca-types/*/". When Dir
// contains "{ref}", the segment "*" matched replaces it, so each ref may have a
// copy of its own ("/srv/tosca-types/indigo/{ref}"). Mappings are tried in order:
// put the refs that have their own copy first.
type Mapping struct {
	Prefix string
	Dir    string
}

// ParseMapping reads the URLPREFIX=DIR form operators write on the command line
// (the prefix may itself contain "=", so the last one separates).
func ParseMapping(s string) (Mapping, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 || i == len(s)-1 {
		return Mapping{}, fmt.Errorf("want URLPREFIX=DIR, got %q", s)
	}
	m := Mapping{Prefix: s[:i], Dir: s[i+1:]}
	if strings.Count(m.Prefix, "*") > 1 {
		return Mapping{}, fmt.Errorf("%q: a prefix may hold one * (the branch or tag)", s)
	}
	if strings.Contains(m.Prefix, "*") && !strings.Contains(m.Prefix, "/*/") {
		return Mapping{}, fmt.Errorf("%q: * must be a whole path segment, as in https://host/lib/*/", s)
	}
	return m, nil
}

// FetchConfig enables fetching URL imports over HTTP. It is off unless set, and
// even then only for allowed prefixes, bounded in size and time, and cached.
type FetchConfig struct {
	Allow    []string // URL prefixes that may be fetched
	MaxBytes int64    // default 1 MiB
	Timeout  time.Duration
	Client   *http.Client
	// CacheDir keeps every fetched file on disk, so imports keep resolving across
	// restarts and while the library's host is unreachable. Empty: memory only.
	CacheDir string
	// MaxAge is how long a cached file is used before it is fetched again (branches
	// move); default 24 hours. A stale copy is still used, with a warning, when
	// fetching fails.
	MaxAge time.Duration
	// Now is the clock (tests inject one); default time.Now.
	Now func() time.Time
}

// Resolver finds the files a template imports.
type Resolver struct {
	Mappings []Mapping
	// AllowLocal permits imports of local files relative to the importing file.
	// Templates submitted to the service never get it: their imports must be URLs.
	AllowLocal bool
	Fetch      *FetchConfig

	cache sync.Map // url -> []byte, fetched during this process's life
}

// location is where a file came from: a URL, or a local path.
type location struct {
	URL  string
	Path string
}

func (l location) String() string {
	if l.URL != "" {
		return l.URL
	}
	return l.Path
}

// resolved is an imported file. note, when set, is a warning for the template
// (a stale cached copy was used).
type resolved struct {
	loc  location
	data []byte
	note string
}

// resolve finds ref relative to the file that imports it.
func (r *Resolver) resolve(ctx context.Context, ref string, from location) (resolved, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return resolved{}, fmt.Errorf("empty import")
	}
	if u, err := url.Parse(ref); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		return r.resolveURL(ctx, u.String())
	}
	if from.URL != "" { // relative to a URL import: resolve against it
		base, err := url.Parse(from.URL)
		if err != nil {
			return resolved{}, fmt.Errorf("import %q: %w", ref, err)
		}
		rel, err := url.Parse(ref)
		if err != nil {
			return resolved{}, fmt.Errorf("import %q: %w", ref, err)
		}
		return r.resolveURL(ctx, base.ResolveReference(rel).String())
	}
	if !r.AllowLocal || from.Path == "" {
		return resolved{}, fmt.Errorf("cannot import local file %q: templates sent to the service may only import URLs of configured type libraries", ref)
	}
	p := filepath.Join(filepath.Dir(from.Path), filepath.FromSlash(ref))
	data, err := os.ReadFile(p)
	if err != nil {
		return resolved{}, fmt.Errorf("cannot read import %q: %w", ref, err)
	}
	return resolved{loc: location{Path: p}, data: data}, nil
}

// match reports whether raw is under the mapping's prefix, and returns the
// directory to serve it from and the path inside it.
func (m Mapping) match(raw string) (dir, rest string, ok bool) {
	prefix, dir := m.Prefix, m.Dir
	before, after, wild := strings.Cut(prefix, "*")
	if !wild {
		if !strings.HasPrefix(raw, prefix) {
			return "", "", false
		}
		return dir, strings.TrimPrefix(raw, prefix), true
	}
	if !strings.HasPrefix(raw, before) {
		return "", "", false
	}
	tail := strings.TrimPrefix(raw, before)
	ref, remainder, found := strings.Cut(tail, "/")
	if !found || ref == "" || ref == "." || ref == ".." || strings.ContainsAny(ref, `\?#%`) {
		return "", "", false
	}
	remainder = "/" + remainder
	if !strings.HasPrefix(remainder, after) {
		return "", "", false
	}
	return strings.ReplaceAll(dir, "{ref}", ref), strings.TrimPrefix(remainder, after), true
}

func (r *Resolver) resolveURL(ctx context.Context, raw string) (resolved, error) {
	for _, m := range r.Mappings {
		dir, rest, ok := m.match(raw)
		if !ok {
			continue
		}
		if i := strings.IndexAny(rest, "?#"); i >= 0 {
			rest = rest[:i]
		}
		rel := path.Clean("/" + rest) // confines the path to the mapped directory
		p := filepath.Join(dir, filepath.FromSlash(rel))
		data, err := os.ReadFile(p)
		if err != nil {
			return resolved{}, fmt.Errorf("import %s maps to %s, which cannot be read", raw, rel)
		}
		return resolved{loc: location{URL: raw}, data: data}, nil
	}
	if r.Fetch != nil {
		for _, allow := range r.Fetch.Allow {
			if strings.HasPrefix(raw, allow) {
				data, note, err := r.fetch(ctx, raw)
				if err != nil {
					return resolved{}, err
				}
				return resolved{loc: location{URL: raw}, data: data, note: note}, nil
			}
		}
	}
	return resolved{}, fmt.Errorf("cannot resolve import %s: no type library is mapped to it and fetching it is not allowed", raw)
}

// cacheMeta is stored beside each cached file.
type cacheMeta struct {
	URL       string    `json:"url"`
	FetchedAt time.Time `json:"fetched_at"`
}

func (f *FetchConfig) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *FetchConfig) cachePaths(raw string) (data, meta string) {
	sum := sha256.Sum256([]byte(raw))
	key := hex.EncodeToString(sum[:])
	return filepath.Join(f.CacheDir, key+".yaml"), filepath.Join(f.CacheDir, key+".json")
}

// cached returns the disk copy of raw and when it was fetched.
func (f *FetchConfig) cached(raw string) ([]byte, time.Time, bool) {
	if f.CacheDir == "" {
		return nil, time.Time{}, false
	}
	dataPath, metaPath := f.cachePaths(raw)
	var meta cacheMeta
	mb, err := os.ReadFile(metaPath)
	if err != nil || json.Unmarshal(mb, &meta) != nil || meta.URL != raw {
		return nil, time.Time{}, false
	}
	data, err := os.ReadFile(dataPath)
	if err != nil {
		return nil, time.Time{}, false
	}
	return data, meta.FetchedAt, true
}

// store writes a fetched file to the disk cache (the data first, then the meta
// that makes it visible, each by rename so a reader never sees half a file).
func (f *FetchConfig) store(raw string, data []byte) error {
	if f.CacheDir == "" {
		return nil
	}
	if err := os.MkdirAll(f.CacheDir, 0o700); err != nil {
		return err
	}
	dataPath, metaPath := f.cachePaths(raw)
	meta, _ := json.Marshal(cacheMeta{URL: raw, FetchedAt: f.now().UTC()})
	for _, w := range []struct {
		path string
		data []byte
	}{{dataPath, data}, {metaPath, meta}} {
		tmp, err := os.CreateTemp(f.CacheDir, ".tmp-*")
		if err != nil {
			return err
		}
		_, werr := tmp.Write(w.data)
		cerr := tmp.Close()
		if werr != nil || cerr != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("write %s: %v %v", w.path, werr, cerr)
		}
		if err := os.Rename(tmp.Name(), w.path); err != nil {
			os.Remove(tmp.Name())
			return err
		}
	}
	return nil
}

// fetch gets raw from memory, the disk cache while it is fresh, or over HTTP; a
// stale disk copy stands in when HTTP fails, with a note saying so.
func (r *Resolver) fetch(ctx context.Context, raw string) ([]byte, string, error) {
	if v, ok := r.cache.Load(raw); ok {
		return v.([]byte), "", nil
	}
	f := r.Fetch
	maxAge := f.MaxAge
	if maxAge <= 0 {
		maxAge = 24 * time.Hour
	}
	disk, fetchedAt, haveDisk := f.cached(raw)
	if haveDisk && f.now().Sub(fetchedAt) < maxAge {
		r.cache.Store(raw, disk)
		return disk, "", nil
	}
	data, err := f.get(ctx, raw)
	if err != nil {
		if haveDisk {
			return disk, fmt.Sprintf("import %s: using the copy cached at %s, because fetching it failed: %v",
				raw, fetchedAt.UTC().Format(time.RFC3339), err), nil
		}
		return nil, "", err
	}
	if err := f.store(raw, data); err != nil {
		return nil, "", fmt.Errorf("fetch import %s: cache it: %w", raw, err)
	}
	r.cache.Store(raw, data)
	return data, "", nil
}

// get fetches raw over HTTP, bounded in size and time.
func (f *FetchConfig) get(ctx context.Context, raw string) ([]byte, error) {
	limit := f.MaxBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	client := f.Client
	if client == nil {
		client = &http.Client{}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch import %s: %w", raw, err)
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch import %s: %w", raw, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch import %s: HTTP %d", raw, res.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("fetch import %s: %w", raw, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("fetch import %s: larger than %d bytes", raw, limit)
	}
	return data, nil
}

package tosca2tf

import (
	"context"
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
type Mapping struct {
	Prefix string
	Dir    string
}

// FetchConfig enables fetching URL imports over HTTP. It is off unless set, and
// even then only for allowed prefixes, bounded in size and time, and cached.
type FetchConfig struct {
	Allow    []string // URL prefixes that may be fetched
	MaxBytes int64    // default 1 MiB
	Timeout  time.Duration
	Client   *http.Client
}

// Resolver finds the files a template imports.
type Resolver struct {
	Mappings []Mapping
	// AllowLocal permits imports of local files relative to the importing file.
	// Templates submitted to the service never get it: their imports must be URLs.
	AllowLocal bool
	Fetch      *FetchConfig

	cache sync.Map // url -> []byte
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

// resolve finds ref relative to the file that imports it.
func (r *Resolver) resolve(ctx context.Context, ref string, from location) (location, []byte, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return location{}, nil, fmt.Errorf("empty import")
	}
	if u, err := url.Parse(ref); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		return r.resolveURL(ctx, u.String())
	}
	if from.URL != "" { // relative to a URL import: resolve against it
		base, err := url.Parse(from.URL)
		if err != nil {
			return location{}, nil, fmt.Errorf("import %q: %w", ref, err)
		}
		rel, err := url.Parse(ref)
		if err != nil {
			return location{}, nil, fmt.Errorf("import %q: %w", ref, err)
		}
		return r.resolveURL(ctx, base.ResolveReference(rel).String())
	}
	if !r.AllowLocal || from.Path == "" {
		return location{}, nil, fmt.Errorf("cannot import local file %q: templates sent to the service may only import URLs of configured type libraries", ref)
	}
	p := filepath.Join(filepath.Dir(from.Path), filepath.FromSlash(ref))
	data, err := os.ReadFile(p)
	if err != nil {
		return location{}, nil, fmt.Errorf("cannot read import %q: %w", ref, err)
	}
	return location{Path: p}, data, nil
}

func (r *Resolver) resolveURL(ctx context.Context, raw string) (location, []byte, error) {
	for _, m := range r.Mappings {
		if !strings.HasPrefix(raw, m.Prefix) {
			continue
		}
		rest := strings.TrimPrefix(raw, m.Prefix)
		if i := strings.IndexAny(rest, "?#"); i >= 0 {
			rest = rest[:i]
		}
		rel := path.Clean("/" + rest) // confines the path to the mapped directory
		p := filepath.Join(m.Dir, filepath.FromSlash(rel))
		data, err := os.ReadFile(p)
		if err != nil {
			return location{}, nil, fmt.Errorf("import %s maps to %s, which cannot be read", raw, rel)
		}
		return location{URL: raw}, data, nil
	}
	if r.Fetch != nil {
		for _, allow := range r.Fetch.Allow {
			if strings.HasPrefix(raw, allow) {
				data, err := r.fetch(ctx, raw)
				if err != nil {
					return location{}, nil, err
				}
				return location{URL: raw}, data, nil
			}
		}
	}
	return location{}, nil, fmt.Errorf("cannot resolve import %s: no type library is mapped to it and fetching it is not allowed", raw)
}

func (r *Resolver) fetch(ctx context.Context, raw string) ([]byte, error) {
	if v, ok := r.cache.Load(raw); ok {
		return v.([]byte), nil
	}
	f := r.Fetch
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
	r.cache.Store(raw, data)
	return data, nil
}

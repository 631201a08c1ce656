package tosca2tf

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const libTypes = `tosca_definitions_version: tosca_simple_yaml_1_0
node_types:
  example.nodes.Server:
    derived_from: tosca.nodes.Compute
`

func importing(url string) []byte {
	return []byte(`tosca_definitions_version: tosca_simple_yaml_1_0
imports:
  - lib: ` + url + `
topology_template:
  node_templates:
    s: { type: example.nodes.Server }
`)
}

// A "*" in a mapping's prefix serves every branch and tag of a type library; a
// {ref} in its directory picks a copy per ref.
func TestMapping_EveryRefOfALibrary(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"all", "refs/v3.4.0/tosca_types/base"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "all", "custom_types.yaml"), []byte(libTypes), 0o644)
	os.WriteFile(filepath.Join(dir, "refs", "v3.4.0", "tosca_types", "base", "basic_types.yaml"), []byte(libTypes), 0o644)
	os.WriteFile(filepath.Join(dir, "secret.yaml"), []byte(libTypes), 0o644)
	r := &Resolver{Mappings: []Mapping{
		{Prefix: "https://raw.githubusercontent.com/indigo-dc/tosca-types/*/", Dir: filepath.Join(dir, "all")},
		{Prefix: "https://baltig.infn.it/infn-cloud/tosca-types/raw/*/tosca_types/", Dir: filepath.Join(dir, "refs", "{ref}", "tosca_types")},
	}}
	good := []string{
		"https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml",
		"https://raw.githubusercontent.com/indigo-dc/tosca-types/devel/custom_types.yaml",
		"https://raw.githubusercontent.com/indigo-dc/tosca-types/v3.4.0/custom_types.yaml",
		"https://baltig.infn.it/infn-cloud/tosca-types/raw/v3.4.0/tosca_types/base/basic_types.yaml",
	}
	for _, u := range good {
		if _, err := Parse(context.Background(), Source{Name: "t.yaml", Content: importing(u)}, r); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	bad := []string{
		"https://raw.githubusercontent.com/indigo-dc/tosca-types/../secret.yaml",
		"https://raw.githubusercontent.com/indigo-dc/tosca-types/master/../../secret.yaml",
		"https://baltig.infn.it/infn-cloud/tosca-types/raw/../tosca_types/base/basic_types.yaml",
		"https://baltig.infn.it/infn-cloud/tosca-types/raw/v9.9.9/tosca_types/base/basic_types.yaml",
		"https://baltig.infn.it/infn-cloud/tosca-types/raw/v3.4.0/other/basic_types.yaml",
		"https://raw.githubusercontent.com/indigo-dc/tosca-types/master",
	}
	for _, u := range bad {
		_, err := Parse(context.Background(), Source{Name: "t.yaml", Content: importing(u)}, r)
		if err == nil {
			t.Errorf("%s resolved", u)
			continue
		}
		if e := err.(Errors)[0]; e.Kind != KindImport || e.Pos.Line != 3 {
			t.Errorf("%s: %v", u, e)
		}
	}
}

// With a cache directory, fetched type libraries survive the process, are fetched
// again once stale, and a stale copy stands in (with a warning) when the host is
// unreachable.
func TestFetch_DiskCache(t *testing.T) {
	var hits atomic.Int32
	up := atomic.Bool{}
	up.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !up.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		w.Write([]byte(libTypes))
	}))
	defer srv.Close()
	cache := t.TempDir()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	newResolver := func() *Resolver {
		return &Resolver{Fetch: &FetchConfig{Allow: []string{srv.URL + "/"}, CacheDir: cache, MaxAge: time.Hour, Now: clock}}
	}
	url := srv.URL + "/master/custom_types.yaml"
	parse := func(r *Resolver) *Template {
		t.Helper()
		tmpl, err := Parse(context.Background(), Source{Name: "t.yaml", Content: importing(url)}, r)
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		return tmpl
	}
	parse(newResolver())
	parse(newResolver()) // a new process: served from the disk cache
	if hits.Load() != 1 {
		t.Fatalf("fetched %d times, want 1", hits.Load())
	}
	now = now.Add(2 * time.Hour) // stale: fetched again
	parse(newResolver())
	if hits.Load() != 2 {
		t.Fatalf("a stale copy must be fetched again: %d fetches", hits.Load())
	}
	now = now.Add(2 * time.Hour)
	up.Store(false)
	tmpl := parse(newResolver())
	if len(tmpl.Warnings) != 1 || tmpl.Warnings[0].Kind != KindImport || tmpl.Warnings[0].Pos.Line != 3 ||
		!strings.Contains(tmpl.Warnings[0].Message, "using the copy cached at 2030-01-01T02:00:00Z") {
		t.Fatalf("a stale copy must come with a warning: %v", tmpl.Warnings)
	}
	files, _ := filepath.Glob(filepath.Join(cache, "*"))
	if len(files) != 2 {
		t.Fatalf("cache holds %v", files)
	}
	// Without a cached copy, an unreachable host is an error naming the URL.
	_, err := Parse(context.Background(), Source{Name: "t.yaml", Content: importing(srv.URL + "/devel/custom_types.yaml")}, newResolver())
	if err == nil || !strings.Contains(err.Error(), "HTTP 502") || !strings.Contains(err.Error(), "/devel/custom_types.yaml") {
		t.Fatalf("unreachable library: %v", err)
	}
}

func TestParseMapping(t *testing.T) {
	for _, tc := range []struct {
		in, prefix, dir, err string
	}{
		{in: "https://example.org/types/=/srv/types", prefix: "https://example.org/types/", dir: "/srv/types"},
		{in: "https://example.org/lib/*/=/srv/lib/{ref}", prefix: "https://example.org/lib/*/", dir: "/srv/lib/{ref}"},
		{in: "https://example.org/types/", err: "want URLPREFIX=DIR"},
		{in: "=/srv", err: "want URLPREFIX=DIR"},
		{in: "https://example.org/*/*/=/srv", err: "one *"},
		{in: "https://example.org/lib-*/=/srv", err: "whole path segment"},
	} {
		m, err := ParseMapping(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || m.Prefix != tc.prefix || m.Dir != tc.dir {
			t.Errorf("%s: %+v %v", tc.in, m, err)
		}
	}
}

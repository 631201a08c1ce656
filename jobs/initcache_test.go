package jobs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"orchestrator/store"
)

// The second deployment of a shape reuses the first one's init (no init line in
// its log) and applies with it; another shape, or the same shape after the
// workdir lost its init, still works; a cache entry that is broken is not used.
func TestInitIsReusedAcrossDeploymentsOfTheSameShape(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{start: true, workers: 1})
	const initLine = "terraform init (providers from the local mirror)"
	first := h.submit(example(t, "single-vm"), nil)
	h.wait(first.ID, store.CreateComplete)
	if !strings.Contains(h.logs(first.ID), initLine) {
		t.Fatalf("the first deployment of its shape did not run init:\n%s", h.logs(first.ID))
	}
	entries, err := os.ReadDir(filepath.Join(h.dir, "init-cache"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("init cache: %v %v", entries, err)
	}
	key := entries[0].Name()
	for _, f := range []string{".terraform.lock.hcl", ".terraform/modules/modules.json"} {
		if _, err := os.Stat(filepath.Join(h.dir, "init-cache", key, f)); err != nil {
			t.Fatalf("the cache lacks %s: %v", f, err)
		}
	}

	second := h.submit(example(t, "single-vm"), map[string]any{"num_cpus": 2})
	h.wait(second.ID, store.CreateComplete)
	if strings.Contains(h.logs(second.ID), initLine) {
		t.Fatalf("the second deployment of the same shape ran init again:\n%s", h.logs(second.ID))
	}
	if r := h.resources(second.ID)["vm[0]"]; r == nil || r.CloudID == "" {
		t.Fatalf("the second deployment has no server: %v", h.resources(second.ID))
	}
	// Its workdir's lock file and module manifest are its own files (a later
	// init there must not write through into the cache).
	lock := filepath.Join(h.engine.workdir(second.ID), ".terraform.lock.hcl")
	original, err := os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lock, []byte("# scribbled\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cached, _ := os.ReadFile(filepath.Join(h.dir, "init-cache", key, ".terraform.lock.hcl"))
	if strings.Contains(string(cached), "scribbled") {
		t.Fatal("a workdir's lock file is shared with the cache")
	}
	if err := os.WriteFile(lock, original, 0o600); err != nil {
		t.Fatal(err)
	}

	// A cache entry missing its manifest is not used: init runs.
	if err := os.RemoveAll(filepath.Join(h.dir, "init-cache", key, ".terraform", "modules")); err != nil {
		t.Fatal(err)
	}
	third := h.submit(example(t, "single-vm"), nil)
	h.wait(third.ID, store.CreateComplete)
	if !strings.Contains(h.logs(third.ID), initLine) {
		t.Fatalf("a broken cache entry was used:\n%s", h.logs(third.ID))
	}

	// Another shape is another key.
	other := h.submit(example(t, "public-vm-with-data"), nil)
	h.wait(other.ID, store.CreateComplete)
	if entries, _ := os.ReadDir(filepath.Join(h.dir, "init-cache")); len(entries) < 2 {
		t.Fatalf("another shape did not get its own init: %v", entries)
	}
	h.enqueue(second.ID, store.Request{Kind: store.RunDelete})
	h.wait(second.ID, store.DeleteComplete)
}

func TestInitKeyChangesWithModulesAndMirror(t *testing.T) {
	t.Parallel()
	res := map[string]string{}
	h := newHarness(t, harnessOpt{})
	d := &store.Deployment{ID: store.NewID(), Template: example(t, "single-vm"), Target: "local", Inputs: []byte("{}")}
	r, err := h.engine.Translate(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	base := initKey(r, "1.11.4", "local", "m1", "p1")
	res["terraform"] = initKey(r, "1.5.7", "local", "m1", "p1")
	res["target"] = initKey(r, "1.11.4", "other-cloud", "m1", "p1")
	res["modules"] = initKey(r, "1.11.4", "local", "m2", "p1")
	res["mirror"] = initKey(r, "1.11.4", "local", "m1", "p2")
	for what, k := range res {
		if k == base {
			t.Errorf("another %s gives the same init key", what)
		}
	}
	if again := initKey(r, "1.11.4", "local", "m1", "p1"); again != base {
		t.Error("the init key is not stable")
	}
}

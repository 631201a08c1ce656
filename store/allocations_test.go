package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
)

func hostpoolTarget(t *testing.T, s *Store, name string, hosts ...string) {
	t.Helper()
	var list []map[string]any
	for _, h := range hosts {
		list = append(list, map[string]any{"name": h, "address": "192.0.2.1", "user": "root"})
	}
	cfg, _ := json.Marshal(map[string]any{"hosts": list})
	if err := s.Targets.Create(context.Background(), &Target{Name: name, Kind: "hostpool", Config: cfg}, nil); err != nil {
		t.Fatal(err)
	}
}

func any2(HostWant, string) bool { return true }

func TestAllocations_ExclusiveKeptReleased(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		s.sealKey = make([]byte, 32)
		ctx := context.Background()
		hostpoolTarget(t, s, "pool", "h1", "h2", "h3")
		u := newUser(t, s, "alice")
		d1, _ := newDeployment(t, s, u.ID)
		d2, _ := newDeployment(t, s, u.ID)

		a, err := s.Allocations.Allocate(ctx, "pool", d1.ID, []HostWant{{"web", 0}, {"web", 1}}, []string{"h1", "h2", "h3"}, any2, false)
		if err != nil || len(a) != 2 || a[0].Host != "h1" || a[1].Host != "h2" {
			t.Fatalf("first allocation: %v %v", a, err)
		}
		// A dry run answers without writing.
		if a, err := s.Allocations.Allocate(ctx, "pool", d2.ID, []HostWant{{"db", 0}}, []string{"h1", "h2", "h3"}, any2, true); err != nil || a[0].Host != "h3" {
			t.Fatalf("dry run: %v %v", a, err)
		}
		if list, _ := s.Allocations.List(ctx, "", d2.ID); len(list) != 0 {
			t.Fatalf("a dry run wrote: %v", list)
		}
		// Again (an update): the same hosts.
		a, err = s.Allocations.Allocate(ctx, "pool", d1.ID, []HostWant{{"web", 0}, {"web", 1}}, []string{"h3", "h2", "h1"}, any2, false)
		if err != nil || a[0].Host != "h1" || a[1].Host != "h2" {
			t.Fatalf("re-allocation moved hosts: %v %v", a, err)
		}
		// Another deployment gets what is left, and no more.
		only := func(w HostWant, h string) bool { return h != "h1" }
		if a, err = s.Allocations.Allocate(ctx, "pool", d2.ID, []HostWant{{"db", 0}}, []string{"h1", "h2", "h3"}, only, false); err != nil || a[0].Host != "h3" {
			t.Fatalf("second deployment: %v %v", a, err)
		}
		_, err = s.Allocations.Allocate(ctx, "pool", d2.ID, []HostWant{{"db", 0}, {"db", 1}}, []string{"h1", "h2", "h3"}, any2, false)
		var nf *NoFitError
		if !errors.As(err, &nf) || nf.Want != (HostWant{"db", 1}) || len(nf.Free) != 0 {
			t.Fatalf("want no fit for db[1], got %v", err)
		}
		// The failed allocation changed nothing: d2 still has h3 only.
		if list, _ := s.Allocations.List(ctx, "", d2.ID); len(list) != 1 || list[0].Host != "h3" {
			t.Fatalf("a failed allocation changed the table: %v", list)
		}
		// Scaling down gives a host back.
		if a, err = s.Allocations.Allocate(ctx, "pool", d1.ID, []HostWant{{"web", 0}}, []string{"h1", "h2", "h3"}, any2, false); err != nil || len(a) != 1 {
			t.Fatalf("scale down: %v %v", a, err)
		}
		if list, _ := s.Allocations.List(ctx, "pool", ""); len(list) != 2 {
			t.Fatalf("after scale down: %v", list)
		}
		// A target update may not remove an allocated host, may remove a free one.
		cfg, _ := json.Marshal(map[string]any{"hosts": []map[string]any{{"name": "h1"}, {"name": "h2"}}})
		if _, err := s.Targets.Update(ctx, "pool", TargetUpdate{Config: cfg}); ErrorCode(err) != EConflict || !strings.Contains(err.Error(), "h3") {
			t.Fatalf("removing allocated h3: %v", err)
		}
		cfg, _ = json.Marshal(map[string]any{"hosts": []map[string]any{{"name": "h1"}, {"name": "h3"}}})
		if _, err := s.Targets.Update(ctx, "pool", TargetUpdate{Config: cfg}); err != nil {
			t.Fatalf("removing free h2: %v", err)
		}
		if n, err := s.Allocations.Release(ctx, d1.ID); err != nil || n != 1 {
			t.Fatalf("release: %d %v", n, err)
		}
		// Removing the deployment row (a hard delete) releases too (cascade).
		if _, err := s.db.ExecContext(ctx, "DELETE FROM deployments WHERE id = ?", d2.ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := s.Allocations.List(ctx, "pool", ""); len(list) != 0 {
			t.Fatalf("hosts still allocated: %v", list)
		}
	})
}

// Many deployments racing for two hosts: exactly two win.
func TestAllocations_ConcurrentDeploymentsNeverShareAHost(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		ctx := context.Background()
		hostpoolTarget(t, s, "pool", "h1", "h2")
		u := newUser(t, s, "bob")
		var ids []string
		for i := 0; i < 8; i++ {
			d, _ := newDeployment(t, s, u.ID)
			ids = append(ids, d.ID)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := map[string]string{}
		for _, id := range ids {
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				a, err := s.Allocations.Allocate(ctx, "pool", id, []HostWant{{"vm", 0}}, []string{"h1", "h2"}, any2, false)
				if err == nil {
					mu.Lock()
					won[id] = a[0].Host
					mu.Unlock()
				}
			}(id)
		}
		wg.Wait()
		hosts := map[string]bool{}
		for _, h := range won {
			hosts[h] = true
		}
		if len(won) != 2 || len(hosts) != 2 {
			t.Fatalf("want two deployments on two different hosts, got %v", won)
		}
	})
}

func TestDeploymentSSH_SealedOnceKnownHostsKept(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dsn string) {
		s, _ := openTest(t, dsn)
		s.sealKey = make([]byte, 32)
		ctx := context.Background()
		u := newUser(t, s, "carol")
		d, _ := newDeployment(t, s, u.ID)
		calls := 0
		gen := func() ([]byte, string, error) {
			calls++
			return []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-material\n"), "ssh-ed25519 AAAA deployment", nil
		}
		a, err := s.DeploymentSSH.Ensure(ctx, d.ID, gen)
		if err != nil || string(a.PrivateKey) != "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-material\n" {
			t.Fatalf("ensure: %v %v", a, err)
		}
		if _, err := s.DeploymentSSH.Ensure(ctx, d.ID, gen); err != nil || calls != 1 {
			t.Fatalf("the key pair was generated %d times (%v)", calls, err)
		}
		var raw []byte
		s.db.QueryRow("SELECT private_key FROM deployment_ssh WHERE deployment_id = ?", d.ID).Scan(&raw)
		if strings.Contains(string(raw), "secret-material") {
			t.Fatal("the private key is stored in clear")
		}
		if err := s.DeploymentSSH.SetKnownHosts(ctx, d.ID, []byte("192.0.2.1 ssh-ed25519 AAAA\n")); err != nil {
			t.Fatal(err)
		}
		if a, _ := s.DeploymentSSH.Get(ctx, d.ID); string(a.KnownHosts) != "192.0.2.1 ssh-ed25519 AAAA\n" {
			t.Fatalf("known hosts: %q", a.KnownHosts)
		}
		if pub, _ := s.DeploymentSSH.PublicKey(ctx, d.ID); pub != "ssh-ed25519 AAAA deployment" {
			t.Fatalf("public key: %q", pub)
		}
	})
}

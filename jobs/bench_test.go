package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orchestrator/jobs/toolchain/tftest"
	"orchestrator/modules"
	"orchestrator/store"
)

// BenchmarkEngineVsBareTerraform runs the same module through the whole engine
// (store, queue, worker, workdir, translation, init, apply -json, logs, state,
// resources) and with bare Terraform in a directory of its own, interleaved
// (the order alternates every iteration, so neither side gets the warmer
// machine), for: creating one VM, creating a 21-resource template, updating it
// in place and deleting it. Each reports both times and their ratio.
func BenchmarkEngineVsBareTerraform(b *testing.B) {
	tc := tftest.Find(b)
	dir := b.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "bench.db"), store.WithSealKey(make([]byte, 32)))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	st.Targets.Create(ctx, &store.Target{Name: "local", Kind: "local", Config: []byte("{}")}, nil)
	u := &store.User{Username: "bench"}
	st.Users.Create(ctx, u)
	e := New(Config{DataDir: dir, Workers: 1}, st, tc.TC, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer e.Stop(ctx)
	oneVM, err := os.ReadFile(filepath.Join("..", "examples", "single-vm", "template.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	seven := benchTemplate(7) // 7 servers with public addresses: 21 Terraform resources

	// ended hears every run that is queued or ends. The harness waits on it
	// instead of polling: a goroutine waking every 2 ms to poll took about 7%
	// from Terraform on this 2-core machine, which the engine was charged with.
	ended := make(chan struct{}, 1)
	defer st.Subscribe(store.TopicRuns, func(string) {
		select {
		case ended <- struct{}{}:
		default:
		}
	})()
	// engine runs one operation and waits until the deployment settles.
	engine := func(b *testing.B, want store.Status, op func() error, id string) time.Duration {
		select { // a notification of an earlier run
		case <-ended:
		default:
		}
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		e.Wake()
		for {
			got, err := st.Deployments.Get(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			if got.Status == want {
				if active, _ := st.Runs.Active(ctx, id); len(active) == 0 {
					return time.Since(start)
				}
			} else if !got.Status.InProgress() {
				b.Fatalf("deployment %s: %s (%s)", id, got.Status, got.StatusReason)
			}
			select {
			case <-ended:
			case <-time.After(time.Second): // never needed, but never stuck either
			}
		}
	}
	// bare runs terraform commands in dir.
	bare := func(b *testing.B, dir string, commands ...[]string) time.Duration {
		start := time.Now()
		for _, args := range commands {
			cmd := exec.Command(tc.Terraform, args...)
			cmd.Dir, cmd.Env = dir, tc.Env(b)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("terraform %v: %v\n%s", args, err, out)
			}
		}
		return time.Since(start)
	}
	// prepare translates a deployment and writes the same module for bare Terraform.
	prepare := func(b *testing.B, template string, inputs map[string]any, id string) (*store.Deployment, string) {
		raw, _ := json.Marshal(inputs)
		if id == "" {
			id = store.NewID()
		}
		d := &store.Deployment{ID: id, Template: template, Target: "local", Inputs: raw, Owners: []string{u.ID}}
		res, err := e.Translate(ctx, d)
		if err != nil {
			b.Fatal(err)
		}
		d.Terraform, d.TFVars = string(res.Main), string(res.Vars)
		bareDir := filepath.Join(dir, "bare", d.ID)
		os.MkdirAll(bareDir, 0o755)
		os.WriteFile(filepath.Join(bareDir, "main.tf.json"), res.Main, 0o644)
		os.WriteFile(filepath.Join(bareDir, "terraform.tfvars.json"), res.Vars, 0o644)
		modules.WriteTo(bareDir, "local")
		return d, bareDir
	}
	report := func(b *testing.B, engineTotal, bareTotal time.Duration) {
		b.ReportMetric(float64(engineTotal.Milliseconds())/float64(b.N), "engine-ms/op")
		b.ReportMetric(float64(bareTotal.Milliseconds())/float64(b.N), "bare-ms/op")
		b.ReportMetric(float64(engineTotal)/float64(bareTotal), "engine/bare")
	}
	apply := []string{"apply", "-auto-approve", "-input=false"}
	create := func(template string) func(b *testing.B) {
		return func(b *testing.B) {
			var et, bt time.Duration
			for i := 0; i < b.N; i++ {
				d, bareDir := prepare(b, template, nil, "")
				runEngine := func() {
					et += engine(b, store.CreateComplete, func() error { _, err := st.Deployments.Create(ctx, d, u.ID); return err }, d.ID)
				}
				runBare := func() { bt += bare(b, bareDir, []string{"init", "-input=false"}, apply) }
				interleave(i, runEngine, runBare)
			}
			report(b, et, bt)
		}
	}
	b.Run("create one VM", create(string(oneVM)))
	b.Run("create 21 resources", create(seven))

	// Update in place and delete, on deployments created outside the timing.
	lifecycle := func(update bool) func(b *testing.B) {
		return func(b *testing.B) {
			var et, bt time.Duration
			for i := 0; i < b.N; i++ {
				d, bareDir := prepare(b, seven, nil, "")
				engine(b, store.CreateComplete, func() error { _, err := st.Deployments.Create(ctx, d, u.ID); return err }, d.ID)
				bare(b, bareDir, []string{"init", "-input=false"}, apply)
				if update {
					// The same deployment with other inputs: bare Terraform gets
					// exactly the variables the engine applies.
					next, _ := prepare(b, seven, map[string]any{"cpus": 4}, d.ID)
					os.WriteFile(filepath.Join(bareDir, "terraform.tfvars.json"), []byte(next.TFVars), 0o644)
					runEngine := func() {
						et += engine(b, store.UpdateComplete, func() error {
							_, err := st.Deployments.Enqueue(ctx, d.ID, store.Request{Kind: store.RunUpdate, Change: func(cur *store.Deployment) error {
								cur.Inputs, cur.Terraform, cur.TFVars = next.Inputs, next.Terraform, next.TFVars
								return nil
							}})
							return err
						}, d.ID)
					}
					interleave(i, runEngine, func() { bt += bare(b, bareDir, apply) })
				} else {
					runEngine := func() {
						et += engine(b, store.DeleteComplete, func() error {
							_, err := st.Deployments.Enqueue(ctx, d.ID, store.Request{Kind: store.RunDelete})
							return err
						}, d.ID)
					}
					interleave(i, runEngine, func() { bt += bare(b, bareDir, []string{"destroy", "-auto-approve", "-input=false"}) })
				}
			}
			report(b, et, bt)
		}
	}
	b.Run("update in place", lifecycle(true))
	b.Run("delete", lifecycle(false))
}

// interleave runs a then b on even iterations and b then a on odd ones.
func interleave(i int, a, b func()) {
	if i%2 == 0 {
		a()
		b()
	} else {
		b()
		a()
	}
}

// benchTemplate is n servers with public addresses, their size an input.
func benchTemplate(n int) string {
	var s strings.Builder
	s.WriteString("tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  inputs:\n    cpus: { type: integer, default: 1 }\n  node_templates:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&s, "    vm%d:\n      type: tosca.nodes.Compute\n      capabilities:\n        host: { properties: { num_cpus: { get_input: cpus } } }\n"+
			"        endpoint: { properties: { network_name: PUBLIC } }\n", i)
	}
	return s.String()
}

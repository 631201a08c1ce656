package jobs

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"orchestrator/jobs/toolchain/tftest"
	"orchestrator/modules"
	"orchestrator/store"
)

// BenchmarkEngineVsBareTerraform deploys the single-vm example through the whole
// engine (store, queue, worker, workdir, init, apply -json, logs, state, resources)
// and, for comparison, runs bare `terraform init && terraform apply` on the same
// generated module in a fresh directory. It reports both and their ratio.
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
	content, err := os.ReadFile(filepath.Join("..", "examples", "single-vm", "template.yaml"))
	if err != nil {
		b.Fatal(err)
	}

	var engineTotal, bareTotal time.Duration
	for i := 0; i < b.N; i++ {
		d := &store.Deployment{ID: store.NewID(), Template: string(content), Target: "local", Inputs: json.RawMessage("{}"), Owners: []string{u.ID}}
		res, err := e.Translate(ctx, d)
		if err != nil {
			b.Fatal(err)
		}
		d.Terraform, d.TFVars = string(res.Main), string(res.Vars)

		start := time.Now()
		if _, err := st.Deployments.Create(ctx, d, u.ID); err != nil {
			b.Fatal(err)
		}
		e.Wake()
		for {
			got, _ := st.Deployments.Get(ctx, d.ID)
			if got.Status == store.CreateComplete {
				break
			}
			if got.Status == store.CreateFailed {
				b.Fatalf("failed: %s", got.StatusReason)
			}
			time.Sleep(2 * time.Millisecond)
		}
		engineTotal += time.Since(start)

		bare := filepath.Join(dir, "bare", d.ID)
		os.MkdirAll(bare, 0o755)
		os.WriteFile(filepath.Join(bare, "main.tf.json"), res.Main, 0o644)
		os.WriteFile(filepath.Join(bare, "terraform.tfvars.json"), res.Vars, 0o644)
		modules.WriteTo(bare, "local")
		start = time.Now()
		for _, args := range [][]string{{"init", "-input=false"}, {"apply", "-auto-approve", "-input=false"}} {
			cmd := exec.Command(tc.Terraform, args...)
			cmd.Dir, cmd.Env = bare, tc.Env(b)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("terraform %v: %v\n%s", args, err, out)
			}
		}
		bareTotal += time.Since(start)
	}
	b.ReportMetric(float64(engineTotal.Milliseconds())/float64(b.N), "engine-ms/deploy")
	b.ReportMetric(float64(bareTotal.Milliseconds())/float64(b.N), "bare-ms/deploy")
	b.ReportMetric(float64(engineTotal)/float64(bareTotal), "engine/bare")
}

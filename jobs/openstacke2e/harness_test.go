package openstacke2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orchestrator/jobs"
	"orchestrator/jobs/toolchain/tftest"
	"orchestrator/modules/openstack/ossim"
	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// These tests run the engine with the real terraform-provider-openstack against
// ossim, the OpenStack API simulator (a test double of a remote cloud). The
// target is an ordinary "openstack" target whose OS_AUTH_URL is the
// simulator's Keystone: nothing in the engine knows the cloud is simulated.

// appCredSecret is the target's secret: it must never appear in logs, outputs,
// resources or workdirs.
const appCredSecret = "app-cred-secret-Zq8v3WkPm1"

// simTimes keeps the simulated cloud asynchronous (every create, action and
// delete is seen in its transitional state once) but quick.
var simTimes = ossim.Options{BuildTime: 300 * time.Millisecond, ActionTime: 200 * time.Millisecond,
	DeleteTime: 200 * time.Millisecond, VolumeTime: 200 * time.Millisecond}

const ownerKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1jV3xz0bBkB5E1Zb9+8m6bN1dM0pQeTt0q5n3bY1f alice@example.org"

type osEnv struct {
	t      *testing.T
	cloud  *ossim.Cloud
	store  *store.Store
	engine *jobs.Engine
	user   *store.User
	dir    string
	// credID is the application credential the target holds ("" with password credentials).
	credID string
}

type osOpts struct {
	sim        ossim.Options
	runTimeout time.Duration
	// password gives the target the demo user's password instead of an application credential.
	password bool
	// images are added to the cloud and to the target's catalog.
	images []ossim.Image
	// catalog entries for images the cloud does not have (strictness tests).
	catalogOnly []map[string]any
	// resolver resolves the templates' URL imports (type libraries).
	resolver *tosca2tf.Resolver
	// target changes the target's configuration.
	target func(config map[string]any)
}

func newOpenStack(t *testing.T, o osOpts) *osEnv {
	t.Helper()
	tc := tftest.Find(t)
	ctx := context.Background()
	cloud := ossim.NewTest(t, o.sim)
	env := &osEnv{t: t, cloud: cloud, dir: t.TempDir()}
	st, err := store.Open(ctx, filepath.Join(env.dir, "test.db"), store.WithSealKey(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	env.store = st

	images := []map[string]any{
		{"name": "ubuntu-24.04", "distribution": "ubuntu", "version": "24.04"},
		{"name": "ubuntu-22.04", "distribution": "ubuntu", "version": "22.04"},
		{"name": "rocky-9", "distribution": "rocky", "version": "9"},
	}
	for _, im := range o.images {
		cloud.AddImage(im)
		// Images without an operating system are only used by name.
		if im.Properties["os_distro"] != "" {
			images = append(images, map[string]any{"name": im.Name, "distribution": im.Properties["os_distro"], "version": im.Properties["os_version"]})
		}
	}
	images = append(images, o.catalogOnly...)
	config := map[string]any{
		"external_network":    ossim.PublicNetwork,
		"external_network_id": cloud.NetworkID(ossim.PublicNetwork),
		"default_network_id":  cloud.NetworkID(ossim.PrivateNetwork),
		"flavors": []map[string]any{
			{"name": "m1.small", "vcpus": 1, "ram_mb": 2048, "disk_gb": 20},
			{"name": "m1.medium", "vcpus": 2, "ram_mb": 4096, "disk_gb": 40},
			{"name": "m1.large", "vcpus": 4, "ram_mb": 8192, "disk_gb": 80},
			{"name": "m1.xlarge", "vcpus": 8, "ram_mb": 16384, "disk_gb": 160},
		},
		"images": images,
		// These simulated servers run nothing: their software is recorded, never
		// configured over SSH (configure_test.go backs servers by real sshd hosts
		// and turns configuration on).
		"software_configuration": "off",
	}
	if o.target != nil {
		o.target(config)
	}
	cfg, _ := json.Marshal(config)
	creds := map[string]string{"OS_AUTH_URL": cloud.AuthURL(), "OS_REGION_NAME": cloud.Region()}
	if o.password {
		creds["OS_USERNAME"], creds["OS_PASSWORD"], creds["OS_PROJECT_NAME"] = ossim.UserName, ossim.UserPassword, ossim.ProjectName
		creds["OS_USER_DOMAIN_NAME"], creds["OS_PROJECT_DOMAIN_NAME"] = "Default", "Default"
	} else {
		env.credID = cloud.AddApplicationCredential(ossim.UserName, ossim.ProjectName, "orchestrator", appCredSecret)
		creds["OS_APPLICATION_CREDENTIAL_ID"], creds["OS_APPLICATION_CREDENTIAL_SECRET"] = env.credID, appCredSecret
	}
	if err := st.Targets.Create(ctx, &store.Target{Name: "cloud", Kind: "openstack", Config: cfg}, creds); err != nil {
		t.Fatal(err)
	}
	env.user = &store.User{Username: "alice"}
	if err := st.Users.Create(ctx, env.user); err != nil {
		t.Fatal(err)
	}
	if err := st.SSHKeys.Add(ctx, &store.SSHKey{UserID: env.user.ID, Name: "laptop", PublicKey: ownerKey}); err != nil {
		t.Fatal(err)
	}
	if o.runTimeout == 0 {
		o.runTimeout = 5 * time.Minute
	}
	env.engine = jobs.New(jobs.Config{DataDir: env.dir, Workers: 2, Heartbeat: 200 * time.Millisecond,
		// An interrupted Terraform saves the state with what the cloud already
		// made; under a full test run's load that took over 5 s once, the kill
		// cut the save short and the server was left behind.
		KillGrace:  20 * time.Second,
		RunTimeout: o.runTimeout, Resolver: o.resolver}, st, tc.TC, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err := env.engine.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		env.engine.Stop(ctx)
	})
	return env
}

// submit creates a deployment as the API does: translated first, stored with
// its create run, then the engine is woken.
func (e *osEnv) submit(template string, inputs map[string]any) *store.Deployment {
	e.t.Helper()
	raw, _ := json.Marshal(inputs)
	d := &store.Deployment{ID: store.NewID(), Template: template, Target: "cloud", Inputs: raw, Owners: []string{e.user.ID}}
	res, err := e.engine.Translate(context.Background(), d)
	if err != nil {
		e.t.Fatalf("translate: %v", err)
	}
	d.Terraform, d.TFVars = string(res.Main), string(res.Vars)
	if _, err := e.store.Deployments.Create(context.Background(), d, e.user.ID); err != nil {
		e.t.Fatal(err)
	}
	e.engine.Wake()
	return d
}

func (e *osEnv) enqueue(id string, req store.Request) *store.Run {
	e.t.Helper()
	run, err := e.store.Deployments.Enqueue(context.Background(), id, req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.engine.Wake()
	return run
}

func (e *osEnv) update(id string, inputs map[string]any, kind store.RunKind) {
	e.t.Helper()
	raw, _ := json.Marshal(inputs)
	e.enqueue(id, store.Request{Kind: kind, Change: func(d *store.Deployment) error {
		d.Inputs = raw
		return nil
	}})
}

// wait polls until the deployment settles, and fails unless it settled as want.
func (e *osEnv) wait(id string, want store.Status) *store.Deployment {
	e.t.Helper()
	for deadline := time.Now().Add(4 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		d, err := e.store.Deployments.Get(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		active, _ := e.store.Runs.Active(context.Background(), id)
		if len(active) == 0 && !d.Status.InProgress() {
			if d.Status != want {
				e.t.Fatalf("deployment %s is %s (%s), want %s\nlogs:\n%s", id, d.Status, d.StatusReason, want, e.logs(id))
			}
			return d
		}
	}
	e.t.Fatalf("deployment %s did not settle\nlogs:\n%s", id, e.logs(id))
	return nil
}

func (e *osEnv) logs(id string) string {
	lines, _, _ := e.store.Logs.List(context.Background(), id, store.LogFilter{}, store.Page{Size: 1000})
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s %s %s %s\n", l.Level, l.Source, l.Resource, l.Message)
	}
	return b.String()
}

func (e *osEnv) resources(id string) map[string]*store.Resource {
	e.t.Helper()
	list, err := e.store.Resources.List(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]*store.Resource{}
	for _, r := range list {
		out[fmt.Sprintf("%s[%d]", r.Node, r.Instance)] = r
	}
	return out
}

func (e *osEnv) server(id string) ossim.ServerInfo {
	e.t.Helper()
	s, ok := e.cloud.Server(id)
	if !ok {
		e.t.Fatalf("the cloud has no server %s", id)
	}
	return s
}

func (e *osEnv) volume(id string) ossim.VolumeInfo {
	e.t.Helper()
	for _, v := range e.cloud.Volumes() {
		if v.ID == id {
			return v
		}
	}
	e.t.Fatalf("the cloud has no volume %s", id)
	return ossim.VolumeInfo{}
}

// checkAuths asserts that the provider authenticated only, and always
// successfully, with the target's credentials.
func (e *osEnv) checkAuths() {
	e.t.Helper()
	auths := e.cloud.Auths()
	if len(auths) == 0 {
		e.t.Fatal("the provider never authenticated")
	}
	for _, a := range auths {
		ok := a.OK && a.ProjectName == ossim.ProjectName && a.UserName == ossim.UserName
		if e.credID != "" {
			ok = ok && a.Method == "application_credential" && a.ApplicationCred == e.credID
		} else {
			ok = ok && a.Method == "password"
		}
		if !ok {
			e.t.Fatalf("an authentication the target's credentials do not explain: %+v", a)
		}
	}
}

// checkNoSecret greps the deployment's logs, runs, outputs, resources and the
// whole data dir (workdirs, state copies, the database) for the target's secret.
func (e *osEnv) checkNoSecret(id string) {
	e.t.Helper()
	secret := appCredSecret
	if e.credID == "" {
		secret = ossim.UserPassword
	}
	ctx := context.Background()
	d, _ := e.store.Deployments.Get(ctx, id)
	runs, _, _ := e.store.Runs.List(ctx, id, store.Page{Size: 100})
	res, _ := e.store.Resources.List(ctx, id)
	for what, v := range map[string]any{"logs": e.logs(id), "deployment": d, "runs": runs, "resources": res} {
		data, _ := json.Marshal(v)
		if strings.Contains(string(data), secret) {
			e.t.Fatalf("the %s contain the target's secret", what)
		}
	}
	filepath.WalkDir(e.dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || de.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), secret) {
			e.t.Errorf("%s contains the target's secret", p)
		}
		return nil
	})
}

// checkNothingLeft asserts that the project holds nothing but the seed.
func (e *osEnv) checkNothingLeft() {
	e.t.Helper()
	if inv := e.cloud.Inventory(ossim.ProjectName); !inv.Empty() {
		e.t.Fatalf("the cloud still holds: %s", inv)
	}
}

func example(t *testing.T, name string) string {
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", name, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// serverOf returns the cloud's server behind a compute resource, after checking
// that the resource's addresses are the cloud's.
func (e *osEnv) serverOf(r *store.Resource, wantPublic bool) ossim.ServerInfo {
	e.t.Helper()
	if r == nil || r.Kind != "compute" {
		e.t.Fatalf("not a compute resource: %+v", r)
	}
	s := e.server(r.CloudID)
	if len(s.FixedIPs) == 0 || r.Attributes["private_address"] != s.FixedIPs[0] {
		e.t.Fatalf("%s: private_address %v, the cloud says %v", r.Node, r.Attributes["private_address"], s.FixedIPs)
	}
	if wantPublic {
		if len(s.FloatingIPs) != 1 || r.Attributes["public_address"] != s.FloatingIPs[0] {
			e.t.Fatalf("%s: public_address %v, the cloud says %v", r.Node, r.Attributes["public_address"], s.FloatingIPs)
		}
	} else if r.Attributes["public_address"] != nil || len(s.FloatingIPs) != 0 {
		e.t.Fatalf("%s: unexpected public address %v / %v", r.Node, r.Attributes["public_address"], s.FloatingIPs)
	}
	return s
}

func mergeInputs(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

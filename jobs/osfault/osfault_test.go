package osfault

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"orchestrator/modules/openstack/ossim"
)

// The OpenStack cloud here is ossim, the tests' simulator of the OpenStack APIs.

func boot(t *testing.T, c *ossim.Cloud, name string) string {
	t.Helper()
	post := func(path string, body any, token string) (*http.Response, map[string]any) {
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", c.URL+path, bytes.NewReader(data))
		req.Header.Set("X-Auth-Token", token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out := map[string]any{}
		json.NewDecoder(res.Body).Decode(&out)
		return res, out
	}
	res, _ := post("/identity/v3/auth/tokens", map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": map[string]any{
			"name": ossim.UserName, "password": ossim.UserPassword, "domain": map[string]any{"id": "default"}}}},
		"scope": map[string]any{"project": map[string]any{"name": ossim.ProjectName, "domain": map[string]any{"id": "default"}}}}}, "")
	token := res.Header.Get("X-Subject-Token")
	img := ""
	req, _ := http.NewRequest("GET", c.URL+"/image/v2/images?name=cirros-0.6.2-x86_64-disk", nil)
	req.Header.Set("X-Auth-Token", token)
	ir, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var images struct{ Images []struct{ ID string } }
	json.NewDecoder(ir.Body).Decode(&images)
	ir.Body.Close()
	img = images.Images[0].ID
	res, out := post("/compute/v2.1/servers", map[string]any{"server": map[string]any{"name": name, "flavorRef": "1", "imageRef": img,
		"networks": []any{map[string]any{"uuid": c.NetworkID(ossim.PrivateNetwork)}}}}, token)
	if res.StatusCode != 202 {
		t.Fatalf("boot: %d %v", res.StatusCode, out)
	}
	return out["server"].(map[string]any)["id"].(string)
}

func TestServersReportsTheFaultsOfServersInError(t *testing.T) {
	c := ossim.NewTest(t, ossim.Options{})
	c.FailBuilds("bad", "No valid host was found. There are not enough hosts available.")
	good, bad := boot(t, c, "good-0"), boot(t, c, "bad-0")
	credID := c.AddApplicationCredential(ossim.UserName, ossim.ProjectName, "ci", "s3cret-app")
	envs := map[string]map[string]string{
		"application credential": {"OS_AUTH_URL": c.AuthURL(), "OS_APPLICATION_CREDENTIAL_ID": credID, "OS_APPLICATION_CREDENTIAL_SECRET": "s3cret-app", "OS_REGION_NAME": "RegionOne"},
		"password": {"OS_AUTH_URL": strings.TrimSuffix(c.AuthURL(), "/v3"), "OS_USERNAME": ossim.UserName, "OS_PASSWORD": ossim.UserPassword,
			"OS_PROJECT_NAME": ossim.ProjectName, "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default"},
	}
	for name, env := range envs {
		t.Run(name, func(t *testing.T) {
			faults, err := Servers(context.Background(), env, []string{good, bad, "7a3c0000-0000-4000-8000-000000000000"})
			if err != nil {
				t.Fatal(err)
			}
			if len(faults) != 1 || faults[0].ServerID != bad || faults[0].Name != "bad-0" ||
				faults[0].Message != "No valid host was found. There are not enough hosts available." {
				t.Fatalf("faults: %+v", faults)
			}
			if s := faults[0].String(); !strings.Contains(s, "bad-0") || !strings.Contains(s, "ERROR") {
				t.Fatalf("String: %s", s)
			}
		})
	}
}

func TestServersFailsWithoutLeakingTheSecret(t *testing.T) {
	c := ossim.NewTest(t, ossim.Options{})
	env := map[string]string{"OS_AUTH_URL": c.AuthURL(), "OS_USERNAME": ossim.UserName, "OS_PASSWORD": "wrong-Secret-123",
		"OS_PROJECT_NAME": ossim.ProjectName}
	_, err := Servers(context.Background(), env, []string{"x"})
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-Secret-123") {
		t.Fatalf("error: %v", err)
	}
	// A cloud that never answers: the call gives up on its own.
	c.Inject(ossim.Fault{Service: "identity", Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Servers(ctx, env, []string{"x"}); err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("hanging cloud: %v after %s", err, time.Since(start))
	}
	if f, err := Servers(context.Background(), env, nil); f != nil || err != nil {
		t.Fatalf("no servers: %v %v", f, err)
	}
}

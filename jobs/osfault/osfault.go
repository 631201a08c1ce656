// Package osfault asks an OpenStack cloud why its servers failed: the
// terraform-provider-openstack reports a server that ended in ERROR as
// "unexpected state 'ERROR'" and drops the fault message Nova keeps for it
// ("No valid host was found..."), which is what a user needs to read.
//
// It speaks only Keystone v3 (to get a token and the catalog) and one Nova
// call (GET /servers/{id}), with the same OS_* variables the provider gets.
// It never logs or returns a credential, and gives up quickly: it only adds
// to the reason of a run that already failed.
package osfault

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Fault is why the cloud says a server failed.
type Fault struct {
	ServerID string
	Name     string
	Status   string
	Message  string
}

func (f Fault) String() string {
	return fmt.Sprintf("the cloud reports server %s (%s) in %s: %s", f.Name, f.ServerID, f.Status, f.Message)
}

// Servers returns the faults of the given servers that the cloud reports in
// ERROR; servers that are fine or gone are left out. env holds the target's
// OS_* variables; without OS_AUTH_URL (a clouds.yaml target) there is no one
// to ask and nothing is returned.
func Servers(ctx context.Context, env map[string]string, serverIDs []string) ([]Fault, error) {
	if len(serverIDs) == 0 || env["OS_AUTH_URL"] == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cl := &http.Client{Timeout: 10 * time.Second}
	if insecure := strings.ToLower(env["OS_INSECURE"]); insecure == "true" || insecure == "1" {
		cl.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	token, compute, err := authenticate(ctx, cl, env)
	if err != nil {
		return nil, err
	}
	var out []Fault
	for _, id := range serverIDs {
		var body struct {
			Server struct {
				ID     string `json:"id"`
				Name   string `json:"name"`
				Status string `json:"status"`
				Fault  struct {
					Message string `json:"message"`
				} `json:"fault"`
			} `json:"server"`
		}
		status, err := call(ctx, cl, "GET", strings.TrimSuffix(compute, "/")+"/servers/"+id, token, nil, &body)
		if err != nil {
			return out, fmt.Errorf("read server %s: %w", id, err)
		}
		if status == http.StatusNotFound {
			continue
		}
		if status != http.StatusOK {
			return out, fmt.Errorf("read server %s: HTTP %d", id, status)
		}
		if s := body.Server; s.Status == "ERROR" && s.Fault.Message != "" {
			out = append(out, Fault{ServerID: s.ID, Name: s.Name, Status: s.Status, Message: s.Fault.Message})
		}
	}
	return out, nil
}

// authenticate gets a project-scoped token and the compute endpoint, from a
// password, an application credential or a token, as the provider does.
func authenticate(ctx context.Context, cl *http.Client, env map[string]string) (string, string, error) {
	authURL := strings.TrimSuffix(env["OS_AUTH_URL"], "/")
	if authURL == "" {
		return "", "", errors.New("no OS_AUTH_URL")
	}
	if strings.HasSuffix(authURL, "/v2.0") {
		return "", "", errors.New("Keystone v2.0 is not supported")
	}
	if !strings.HasSuffix(authURL, "/v3") {
		authURL += "/v3"
	}
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := env[k]; v != "" {
				return v
			}
		}
		return ""
	}
	// ref names a user, project or domain by id, else by name.
	ref := func(id, name string) map[string]any {
		if id != "" {
			return map[string]any{"id": id}
		}
		return map[string]any{"name": name}
	}
	domain := func(idKey, nameKey string) map[string]any {
		if id, name := first(idKey), first(nameKey, "OS_DOMAIN_NAME"); id != "" || name != "" {
			return ref(id, name)
		}
		return map[string]any{"id": "default"}
	}
	user := ref(first("OS_USER_ID"), first("OS_USERNAME"))
	if user["name"] != nil {
		user["domain"] = domain("OS_USER_DOMAIN_ID", "OS_USER_DOMAIN_NAME")
	}
	identity := map[string]any{}
	scoped := true
	switch {
	case first("OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_NAME") != "":
		cred := ref(first("OS_APPLICATION_CREDENTIAL_ID"), first("OS_APPLICATION_CREDENTIAL_NAME"))
		cred["secret"] = env["OS_APPLICATION_CREDENTIAL_SECRET"]
		if cred["name"] != nil {
			cred["user"] = user
		}
		identity = map[string]any{"methods": []string{"application_credential"}, "application_credential": cred}
		scoped = false // an application credential is bound to its project
	case env["OS_TOKEN"] != "":
		identity = map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": env["OS_TOKEN"]}}
	default:
		user["password"] = env["OS_PASSWORD"]
		identity = map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": user}}
	}
	auth := map[string]any{"identity": identity}
	if scoped {
		project := ref(first("OS_PROJECT_ID", "OS_TENANT_ID"), first("OS_PROJECT_NAME", "OS_TENANT_NAME"))
		if project["name"] != nil {
			project["domain"] = domain("OS_PROJECT_DOMAIN_ID", "OS_PROJECT_DOMAIN_NAME")
		}
		auth["scope"] = map[string]any{"project": project}
	}
	var body struct {
		Token struct {
			Catalog []struct {
				Type      string `json:"type"`
				Endpoints []struct {
					Interface string `json:"interface"`
					Region    string `json:"region"`
					RegionID  string `json:"region_id"`
					URL       string `json:"url"`
				} `json:"endpoints"`
			} `json:"catalog"`
		} `json:"token"`
	}
	req := map[string]any{"auth": auth}
	status, token, err := authCall(ctx, cl, authURL+"/auth/tokens", req, &body)
	if err != nil {
		return "", "", fmt.Errorf("authenticate: %w", err)
	}
	if status != http.StatusCreated || token == "" {
		return "", "", fmt.Errorf("authenticate: HTTP %d", status)
	}
	iface := strings.TrimSuffix(first("OS_INTERFACE", "OS_ENDPOINT_TYPE"), "URL")
	if iface == "" {
		iface = "public"
	}
	region := env["OS_REGION_NAME"]
	for _, svc := range body.Token.Catalog {
		if svc.Type != "compute" {
			continue
		}
		for _, ep := range svc.Endpoints {
			if ep.Interface == iface && (region == "" || ep.Region == region || ep.RegionID == region) {
				return token, ep.URL, nil
			}
		}
	}
	return "", "", errors.New("no compute endpoint in the catalog")
}

func authCall(ctx context.Context, cl *http.Client, url string, body, out any) (int, string, error) {
	data, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(data))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := cl.Do(req)
	if err != nil {
		return 0, "", scrub(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusCreated {
		if err := json.NewDecoder(io.LimitReader(res.Body, 4<<20)).Decode(out); err != nil {
			return res.StatusCode, "", fmt.Errorf("token: %w", err)
		}
	}
	return res.StatusCode, res.Header.Get("X-Subject-Token"), nil
}

func call(ctx context.Context, cl *http.Client, method, url, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Auth-Token", token)
	res, err := cl.Do(req)
	if err != nil {
		return 0, scrub(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK && out != nil {
		if err := json.NewDecoder(io.LimitReader(res.Body, 4<<20)).Decode(out); err != nil {
			return res.StatusCode, err
		}
	}
	return res.StatusCode, nil
}

// scrub keeps a transport error's cause but not its URL (a URL may carry
// user information).
func scrub(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap()
	}
	return err
}

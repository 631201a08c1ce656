package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestServeFlags_OIDCBrowserSignIn(t *testing.T) {
	cfg, err := parseServeFlags([]string{"--oidc-issuer", "https://iam.example.org/", "--oidc-client-id", "dashboard",
		"--oidc-scope", "openid", "--oidc-scope", "groups"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OIDCClientID != "dashboard" || !reflect.DeepEqual(cfg.OIDCScopes, []string{"openid", "groups"}) {
		t.Fatalf("parsed: %q %v", cfg.OIDCClientID, cfg.OIDCScopes)
	}
	t.Setenv("ORCHESTRATOR_OIDC_CLIENT_ID", "from-env")
	if cfg, err = parseServeFlags([]string{"--oidc-issuer", "https://iam.example.org/"}); err != nil || cfg.OIDCClientID != "from-env" {
		t.Fatalf("from the environment: %v %q", err, cfg.OIDCClientID)
	}
	// A client id names a client of an issuer: without one it is a mistake, said at start.
	t.Setenv("ORCHESTRATOR_OIDC_CLIENT_ID", "")
	if _, err := parseServeFlags([]string{"--oidc-client-id", "dashboard"}); err == nil || !strings.Contains(err.Error(), "--oidc-issuer") {
		t.Fatalf("a client id without an issuer: %v", err)
	}
}

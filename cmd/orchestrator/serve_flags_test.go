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

func TestServeFlags_INDIGO(t *testing.T) {
	cfg, err := parseServeFlags([]string{"--public-url", "https://paas.example.org/", "--default-target", "cloud-a",
		"--callback-allow", "dashboard.example.org", "--callback-allow", "*.example.net:8443", "--callback-allow-private"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PublicURL != "https://paas.example.org" || cfg.DefaultTarget != "cloud-a" || !cfg.CallbackAllowPrivate ||
		!reflect.DeepEqual(cfg.CallbackAllow, []string{"dashboard.example.org", "*.example.net:8443"}) {
		t.Fatalf("parsed: %+v", cfg)
	}
	t.Setenv("ORCHESTRATOR_CALLBACK_ALLOW", "a.example.org, b.example.org")
	if cfg, err = parseServeFlags(nil); err != nil || !reflect.DeepEqual(cfg.CallbackAllow, []string{"a.example.org", "b.example.org"}) ||
		cfg.DefaultTarget != "local" || cfg.PublicURL != "" {
		t.Fatalf("defaults and environment: %v %+v", err, cfg)
	}
	for _, bad := range [][]string{{"--callback-allow", "https://dashboard.example.org/callback"}, {"--public-url", "paas.example.org"},
		{"--public-url", "https://paas.example.org/?x=1"}} {
		if _, err := parseServeFlags(bad); err == nil {
			t.Errorf("%v was accepted", bad)
		}
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMECurlQuickstart runs the README's curl quickstart, as written, with
// bash against a real service: every variable it uses must be set by an earlier
// line, and no step may be refused (a PUT right after a stop must wait).
func TestREADMECurlQuickstart(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the README's quickstart")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "The same with curl:\n\n```sh\n")
	script, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("the README has no curl quickstart block")
	}
	svc := startService(t, t.TempDir())
	script = strings.ReplaceAll(script, "localhost:8080", strings.TrimPrefix(svc.url, "http://"))
	// -u: a variable used before it is set fails the script; curl -f would hide
	// the API's answer, so every answer is checked for an error body instead.
	wrapped := "set -euo pipefail\n" + `curl() { local out; out=$(command curl "$@"); echo "$out"; if [[ "$out" == *'{"error":{'* ]]; then echo "API error" >&2; exit 1; fi; }` + "\n" + script
	cmd := exec.Command("bash", "-c", wrapped)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's curl quickstart failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"status":"CREATE_IN_PROGRESS"`, "event: end", `"status":"UPDATE_IN_PROGRESS"`, `"token":"orc_`, `"add":0`} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("the quickstart's output lacks %s:\n%s", want, out)
		}
	}
}

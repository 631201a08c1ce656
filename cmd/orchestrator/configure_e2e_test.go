package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orchestrator/jobs/configure/testhosts"
)

// The service configures software over real SSH on test hosts (network
// namespaces with their own sshd) registered as a hostpool target: the example
// templates under examples/ run their playbooks and scripts, updates change
// the software in place, deletes stop it and release the hosts, a failed task
// is named and retried with reconfigure, and a cancel leaves no process behind.
func TestConfigure_EndToEndOnAHostPool(t *testing.T) {
	t.Parallel()
	pool := testhosts.New(t, testhosts.Spec{Direct: []string{"web1", "web2"}, Bastion: "bastion", Hidden: []string{"inner"}})
	dataDir := t.TempDir()
	corpus, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "tosca-corpus"))
	if d := os.Getenv("ORCHESTRATOR_TOSCA_CORPUS"); d != "" {
		corpus = d
	}
	standIns, _ := filepath.Abs(filepath.Join("testdata", "indigo"))
	svc := startService(t, dataDir, "--ssh-wait", "60s", "--workers", "4",
		"--types-map", "https://baltig.infn.it/infn-cloud/tosca-types/raw/v3.4.0/="+filepath.Join(corpus, "_types", "infn-cloud_tosca-types_v3.4.0"),
		"--artifacts-map", "https://baltig.infn.it/infn-cloud/tosca-types/raw/v3.4.0/artifacts/="+filepath.Join(standIns, "artifacts"),
		"--artifacts-map", "indigo-dc.="+filepath.Join(standIns, "roles"))
	admin := svc.login("admin", "admin-secret-pw")
	// CI shows the end of a failed run's output: the service's log comes first
	// (without its access lines), then which step failed and why.
	var current, failure string
	fatalf := func(format string, args ...any) {
		t.Helper()
		failure = fmt.Sprintf(format, args...)
		t.Fatal(failure)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service output, requests left out:\n%s", withoutRequestLines(svc.out.String()))
			t.Logf("FAILED in step %q:\n%s", current, headAndTail(failure, 6, 30))
		}
	})

	ready := svc.api("GET", "/readyz", "", nil, 200)
	if ready["checks"].(map[string]any)["configuration"] != "ok" {
		fatalf("readyz: %v", ready)
	}
	if !strings.Contains(svc.out.String(), "software configuration") {
		fatalf("the start-up log does not say whether configuration is available:\n%s", svc.out.String())
	}

	// Steps share the service and the pool (sshd hosts are the expensive part);
	// svc.api fails the whole test, so they are plain steps, not subtests.
	step := func(name string, fn func()) {
		t.Logf("step %s", name)
		current = name
		start := time.Now()
		fn()
		t.Logf("step %s took %s", name, time.Since(start).Round(time.Second))
	}
	host := func(name string, extra map[string]any) map[string]any {
		h := pool.Hosts[name]
		m := map[string]any{"name": name, "address": h.Addr, "port": h.Port, "user": pool.User, "os": map[string]any{"type": "linux"}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	bastion := pool.Hosts["bastion"]
	svc.api("POST", "/api/v1/targets", admin, map[string]any{
		"name": "pool", "kind": "hostpool",
		"config": map[string]any{"ssh_wait_seconds": 60, "hosts": []any{
			host("web1", map[string]any{"cpus": 2, "memory_mb": 2048}),
			host("web2", map[string]any{"cpus": 2, "memory_mb": 2048}),
			host("inner", map[string]any{"cpus": 4, "memory_mb": 8192,
				"bastion": map[string]any{"address": bastion.Addr, "port": bastion.Port, "user": pool.User}}),
		}},
		"credentials": map[string]string{"ssh_private_key": string(pool.PrivateKey)},
	}, 201)
	// A key that is not one is refused, without echoing it.
	bad := svc.api("POST", "/api/v1/targets", admin, map[string]any{"name": "bad-pool", "kind": "hostpool",
		"credentials": map[string]string{"ssh_private_key": "not-a-key-at-all"}}, 422)
	if strings.Contains(fmt.Sprint(bad), "not-a-key-at-all") {
		fatalf("the refused key was echoed: %v", bad)
	}

	templateID := func(name string) string {
		list := svc.api("GET", "/api/v1/templates?name="+name, admin, nil, 200)["items"].([]any)
		if len(list) != 1 {
			fatalf("template %s: %v", name, list)
		}
		return list[0].(map[string]any)["id"].(string)
	}
	deploy := func(name string, inputs map[string]any) string {
		d := svc.api("POST", "/api/v1/deployments", admin, map[string]any{"template_id": templateID(name), "target": "pool", "inputs": inputs}, 202)
		return d["id"].(string)
	}
	settle := func(id string) map[string]any {
		t.Helper()
		for deadline := time.Now().Add(8 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			d := svc.api("GET", "/api/v1/deployments/"+id, admin, nil, 200)
			if runs := svc.api("GET", "/api/v1/deployments/"+id+"/runs", admin, nil, 200)["items"].([]any); len(runs) > 0 {
				if st := runs[0].(map[string]any)["status"]; st == "queued" || st == "running" {
					continue
				}
			}
			if st := d["status"].(string); !strings.HasSuffix(st, "_IN_PROGRESS") {
				return d
			}
		}
		fatalf("deployment %s did not settle:\n%s", id, svc.out.String())
		return nil
	}
	resources := func(id string) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, r := range svc.api("GET", "/api/v1/deployments/"+id+"/resources", admin, nil, 200)["items"].([]any) {
			m := r.(map[string]any)
			if m["state"] != "DELETED" {
				out[m["node"].(string)] = m
			}
		}
		return out
	}
	attr := func(r map[string]any, k string) any { return r["attributes"].(map[string]any)[k] }
	logText := func(id, query string) string {
		var b strings.Builder
		for _, l := range svc.api("GET", "/api/v1/deployments/"+id+"/logs?size=1000&"+query, admin, nil, 200)["items"].([]any) {
			m := l.(map[string]any)
			fmt.Fprintf(&b, "%s %s [%s] %s\n", m["level"], m["source"], m["resource"], m["message"])
		}
		return b.String()
	}
	expectStatus := func(d map[string]any, want string) {
		t.Helper()
		if d["status"] != want {
			fatalf("deployment %s is %s (%v), want %s\nlogs:\n%s", d["id"], d["status"], d["status_reason"], want, logText(d["id"].(string), ""))
		}
	}
	get := func(hostName string, port int) string {
		t.Helper()
		page, err := pool.HTTPGet(hostName, port, "/")
		if err != nil {
			fatalf("GET %s:%d: %v", hostName, port, err)
		}
		return page
	}

	step("a: playbooks serve a page, update it in place, stop it on delete", func() {
		id := deploy("web-page", map[string]any{"port": 8181, "text": "first page"})
		expectStatus(settle(id), "CREATE_COMPLETE")
		res := resources(id)
		if attr(res["server"], "pool_host") != "web1" || res["page"]["state"] != "CONFIGURED" || attr(res["page"], "configured") != true {
			fatalf("resources: %v", res)
		}
		if page := get("web1", 8181); !strings.Contains(page, "first page") || !strings.Contains(page, pool.Hosts["web1"].Addr) {
			fatalf("page: %q", page)
		}
		logs := logText(id, "source=configuration")
		for _, want := range []string{"[page] changed: write the page", "[page] ok: wait until it answers", "Standard.create on server-0", "SSH on server-0 answered"} {
			if !strings.Contains(logs, want) {
				fatalf("configuration logs miss %q:\n%s", want, logs)
			}
		}
		if strings.Contains(logText(id, ""), "PRIVATE KEY") {
			fatalf("a private key reached the logs")
		}
		// Pool hosts are not powered by the orchestrator.
		svc.api("POST", "/api/v1/deployments/"+id+"/resources/"+res["server"]["id"].(string)+"/actions", admin, map[string]any{"action": "stop"}, 422)

		svc.api("PUT", "/api/v1/deployments/"+id, admin, map[string]any{"inputs": map[string]any{"port": 8182, "text": "second page"}, "redeploy": false}, 202)
		expectStatus(settle(id), "UPDATE_COMPLETE")
		if page := get("web1", 8182); !strings.Contains(page, "second page") {
			fatalf("updated page: %q", page)
		}
		if pool.Listening("web1", 8181) {
			fatalf("the server of the first port still runs after the update")
		}
		if res := resources(id); attr(res["server"], "pool_host") != "web1" || res["server"]["cloud_id"] != "pool:web1" {
			fatalf("the update moved the deployment: %v", res["server"])
		}

		svc.api("DELETE", "/api/v1/deployments/"+id, admin, nil, 202)
		expectStatus(settle(id), "DELETE_COMPLETE")
		if pool.Listening("web1", 8182) {
			fatalf("the web server still runs after delete")
		}
		if logs := logText(id, "source=configuration"); !strings.Contains(logs, "Standard.stop on server-0") {
			fatalf("delete did not run the stop operation:\n%s", logs)
		}
		if !strings.Contains(logText(id, "source=orchestrator"), "released 1 pool host") {
			fatalf("the host was not released:\n%s", logText(id, ""))
		}
	})

	step("b: shell scripts with inputs as environment", func() {
		id := deploy("web-page-script", map[string]any{"port": 8190, "text": "scripted 'quoted' $HOME page"})
		expectStatus(settle(id), "CREATE_COMPLETE")
		res := resources(id)
		if attr(res["server"], "pool_host") != "web1" { // released by a's delete: the smallest free host again
			fatalf("the released host was not reused: %v", res["server"])
		}
		if page := get("web1", 8190); !strings.Contains(page, "scripted 'quoted' $HOME page") {
			fatalf("page: %q", page)
		}
		if logs := logText(id, "source=configuration"); !strings.Contains(logs, "[page] serving on port 8190") {
			fatalf("script output not in the logs:\n%s", logs)
		}
		svc.api("DELETE", "/api/v1/deployments/"+id, admin, nil, 202)
		expectStatus(settle(id), "DELETE_COMPLETE")
		if pool.Listening("web1", 8190) {
			fatalf("the scripted server still runs after delete")
		}
	})

	var twoHosts string
	step("c: two hosts, one behind the bastion, configured in order with the other's address", func() {
		twoHosts = deploy("two-hosts", nil)
		expectStatus(settle(twoHosts), "CREATE_COMPLETE")
		res := resources(twoHosts)
		if attr(res["backend_server"], "pool_host") != "web1" || attr(res["frontend_server"], "pool_host") != "inner" {
			fatalf("placement: backend on %v, frontend on %v", attr(res["backend_server"], "pool_host"), attr(res["frontend_server"], "pool_host"))
		}
		want := fmt.Sprintf("backend at http://%s:8070/", pool.Hosts["web1"].Addr)
		if page := get("inner", 8070); !strings.Contains(page, want) {
			fatalf("frontend page %q lacks %q", page, want)
		}
		if page := get("web1", 8070); !strings.Contains(page, "backend") {
			fatalf("backend page: %q", page)
		}
		logs := logText(twoHosts, "source=configuration")
		if !strings.Contains(logs, "through bastion-inner") || strings.Index(logs, "[backend] serving") > strings.Index(logs, "[frontend] serving") {
			fatalf("the frontend must be configured after the backend, through the bastion:\n%s", logs)
		}
		// The pool's big host is taken: the same template no longer fits.
		e := svc.api("POST", "/api/v1/deployments", admin, map[string]any{"template_id": templateID("two-hosts"), "target": "pool"}, 422)
		msg := fmt.Sprint(e)
		if !strings.Contains(msg, `node "frontend_server"`) || !strings.Contains(msg, "the pool has 3 hosts") || !strings.Contains(msg, "inner (4 cpus, 8192 MB") {
			fatalf("no-fit error: %s", msg)
		}
	})

	step("d: a failed task is named, then reconfigure with a fixed input succeeds", func() {
		id := deploy("web-page", map[string]any{"port": 80, "text": "retry page"})
		d := settle(id)
		expectStatus(d, "CREATE_FAILED")
		reason := d["status_reason"].(string)
		for _, want := range []string{"node page", "Standard.create", `task "check the port is unprivileged"`} {
			if !strings.Contains(reason, want) {
				fatalf("status_reason %q lacks %q", reason, want)
			}
		}
		if logs := logText(id, "source=configuration&level=error"); !strings.Contains(logs, "port 80 is privileged") {
			fatalf("the task's output is not in the logs:\n%s", logs)
		}
		res := resources(id)
		if res["page"]["state"] != "ERROR" || attr(res["server"], "pool_host") != "web2" {
			fatalf("resources after the failure: %v", res)
		}
		svc.api("POST", "/api/v1/deployments/"+id+"/resources/"+res["page"]["id"].(string)+"/actions", admin,
			map[string]any{"action": "reconfigure", "inputs": map[string]any{"port": 8185}}, 202)
		expectStatus(settle(id), "CREATE_COMPLETE")
		if page := get("web2", 8185); !strings.Contains(page, "retry page") {
			fatalf("page after reconfigure: %q", page)
		}
		if res := resources(id); res["page"]["state"] != "CONFIGURED" || res["server"]["cloud_id"] != "pool:web2" {
			fatalf("resources after reconfigure: %v", res)
		}
		svc.api("DELETE", "/api/v1/deployments/"+id, admin, nil, 202)
		expectStatus(settle(id), "DELETE_COMPLETE")
	})

	step("e: a cancel mid-playbook leaves no ansible or ssh process", func() {
		id := deploy("web-page", map[string]any{"port": 8186, "install_delay": 120})
		deadline := time.Now().Add(5 * time.Minute)
		for !strings.Contains(logText(id, "source=configuration"), "task started: wait before installing") {
			if time.Now().After(deadline) {
				fatalf("the playbook never reached its long task:\n%s", logText(id, ""))
			}
			time.Sleep(250 * time.Millisecond)
		}
		if len(configProcesses(dataDir)) == 0 {
			fatalf("no ansible or ssh process while the playbook runs: the check below would prove nothing")
		}
		runs := svc.api("GET", "/api/v1/deployments/"+id+"/runs", admin, nil, 200)["items"].([]any)
		svc.api("POST", "/api/v1/runs/"+runs[0].(map[string]any)["id"].(string)+"/cancel", admin, nil, 202)
		d := settle(id)
		if d["status"] != "CREATE_FAILED" {
			fatalf("after cancel: %v %v", d["status"], d["status_reason"])
		}
		if left := configProcesses(dataDir); len(left) > 0 {
			fatalf("processes left after the cancel: %v", left)
		}
		svc.api("DELETE", "/api/v1/deployments/"+id, admin, nil, 202)
		expectStatus(settle(id), "DELETE_COMPLETE")
	})

	if twoHosts != "" {
		svc.api("DELETE", "/api/v1/deployments/"+twoHosts, admin, nil, 202)
		expectStatus(settle(twoHosts), "DELETE_COMPLETE")
	}

	step("f: INDIGO docker types run the mapped playbooks and roles in order with resolved variables", func() {
		tmpl, err := os.ReadFile(filepath.Join(standIns, "indigo-docker.yaml"))
		if err != nil {
			fatalf("%v", err)
		}
		d := svc.api("POST", "/api/v1/deployments", admin, map[string]any{"template": string(tmpl), "target": "pool",
			"inputs": map[string]any{"project": "science-gateway"}}, 202)
		id := d["id"].(string)
		expectStatus(settle(id), "CREATE_COMPLETE")
		web1 := pool.Hosts["web1"]
		order, err := os.ReadFile(filepath.Join(web1.Srv, "indigo", "order.log"))
		if err != nil {
			fatalf("nothing ran on web1: %v\n%s", err, logText(id, ""))
		}
		want := "role indigo-dc.docker_run image=nginx\nplaybook dodas/ansible.yaml\nrole indigo-dc.docker\nplaybook docker/compose_start.yml\n"
		if string(order) != want {
			fatalf("order:\n%s\nwant:\n%s", order, want)
		}
		run, _ := os.ReadFile(filepath.Join(web1.Srv, "indigo", "docker_run.json"))
		compose, _ := os.ReadFile(filepath.Join(web1.Srv, "indigo", "compose.json"))
		for _, w := range []string{`"role_name": "indigo-dc.docker_run"`, `"image": "nginx"`, `"tag": "1.25"`, `"ports": ["8080:80"]`, `"appname": "web"`} {
			if !strings.Contains(string(run), w) {
				fatalf("docker_run.json lacks %s: %s", w, run)
			}
		}
		for _, w := range []string{`"project_name": "science-gateway"`, `"docker_compose_file_url": "http://` + web1.Addr + `/compose.yml"`, `"environment_variables": []`} {
			if !strings.Contains(string(compose), w) {
				fatalf("compose.json lacks %s: %s", w, compose)
			}
		}
		if logs := logText(id, "source=configuration"); !strings.Contains(logs, "indigo-dc.docker was installed successfully") {
			fatalf("the Galaxy roles were not installed with ansible-galaxy:\n%s", logs)
		}
		svc.api("DELETE", "/api/v1/deployments/"+id, admin, nil, 202)
		expectStatus(settle(id), "DELETE_COMPLETE")
	})
	if left := configProcesses(dataDir); len(left) > 0 {
		fatalf("processes left: %v", left)
	}
}

// configProcesses lists ansible and ssh processes working for the service in
// dataDir (their command lines name the run's private directory there).
func configProcesses(dataDir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, dataDir) && (strings.Contains(cmd, "ansible") || strings.HasPrefix(cmd, "ssh ")) {
			out = append(out, e.Name()+": "+cmd)
		}
	}
	return out
}

// withoutRequestLines drops the access log lines from a service's output.
func withoutRequestLines(out string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		if !strings.Contains(line, " msg=request ") && !strings.Contains(line, `"msg":"request"`) {
			b.WriteString(line)
		}
	}
	return b.String()
}

// headAndTail is s cut to its first head and last tail lines.
func headAndTail(s string, head, tail int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= head+tail {
		return strings.Join(lines, "\n")
	}
	return strings.Join(lines[:head], "\n") + fmt.Sprintf("\n(%d lines left out)\n", len(lines)-head-tail) +
		strings.Join(lines[len(lines)-tail:], "\n")
}

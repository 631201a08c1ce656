package ui_test

import (
	"strings"
	"testing"
	"time"
)

const badTemplate = "tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n    vm:\n      type: tosca.nodes.Compute\n      capabilities:\n        host:\n          properties:\n            num_cpus: lots\n"

// TestDashboard drives the dashboard in headless Chromium against the real
// service (real Terraform on the simulated local target): a scientist's day,
// another user kept out, and an admin's day. Every page is saved as a
// screenshot at 1280 and 390 pixels wide in bench/results/screenshots.
func TestDashboard(t *testing.T) {
	t.Parallel()
	svc := startService(t)
	b := newBrowser(t, svc.url)
	defer b.checkConsole()

	// --- a new user signs up ---
	b.visit("/")
	b.waitText("h1", "Sign in")
	if p := b.path(); !strings.HasPrefix(p, "/login") {
		t.Fatalf("a signed-out visitor lands on %s", p)
	}
	b.shot("signin")
	b.click(`a[href="/signup"]`)
	b.waitText("h1", "Create an account")
	b.fill(`input[name=username]`, "scientist")
	b.fill(`input[name=name]`, "Ada Scientist")
	b.fill(`input[name=email]`, "ada@example.org")
	b.fill(`input[name=password]`, "correct horse battery")
	b.fill(`input[name=confirm]`, "correct horse batter")
	b.click(`button[type=submit]`)
	b.waitText(`.field[data-field=confirm] .field-error`, "differ")
	b.shot("signup")
	b.fill(`input[name=confirm]`, "correct horse battery")
	b.click(`button[type=submit]`)
	b.waitText("h1", "Catalog")
	b.waitFor(`article[data-template="single-vm"]`)
	b.shot("catalog")
	if eval[string](b, `sessionStorage.getItem('orchestrator.session') || ''`) == "" || strings.Contains(b.path(), "token") {
		t.Fatal("the session token is not in sessionStorage, or is in the URL")
	}

	// --- adds an SSH key (and an API token, shown once) ---
	b.click(`a[href="/profile"]`)
	b.waitText("h1", "Profile")
	b.waitText(".keys, .empty", "No SSH keys yet")
	b.setValue(`textarea[name=public_key]`, sshPublicKey(t, "ada@laptop"))
	b.click(`#sec-ssh-keys ~ form button[type=submit]`)
	b.waitText(".keys li", "ada@laptop")
	b.fill(`#sec-api-tokens ~ form input[name=name]`, "ci")
	b.click(`#sec-api-tokens ~ form button[type=submit]`)
	b.waitText(".token-once code", "orc_")
	b.shot("profile")
	// --- changes the password: a wrong current one is reported at its field ---
	b.fill(`#sec-password ~ form input[name=current_password]`, "not my password")
	b.fill(`#sec-password ~ form input[name=password]`, "a brand new passphrase")
	b.fill(`#sec-password ~ form input[name=confirm]`, "a brand new passphrase")
	b.click(`#sec-password ~ form button[type=submit]`)
	b.waitText(`#sec-password ~ form .field[data-field=current_password] .field-error`, "current_password is wrong")
	b.fill(`#sec-password ~ form input[name=current_password]`, "correct horse battery")
	b.fill(`#sec-password ~ form input[name=password]`, "a brand new passphrase")
	b.fill(`#sec-password ~ form input[name=confirm]`, "a brand new passphrase")
	b.click(`#sec-password ~ form button[type=submit]`)
	b.waitText(".toast", "Password changed")

	// --- deploys from the catalog after fixing an error the server reported ---
	b.click(`a[href="/catalog"]`)
	b.click(`article[data-template="single-vm"] a.btn`)
	b.waitText("h1", "Deploy")
	b.waitFor(`[name="inputs.num_cpus"][type=number][min="1"][max="16"]`)
	b.waitFor(`select[name="inputs.os_distribution"]`)
	// The browser checks what it can: a range.
	b.fill(`[name="inputs.num_cpus"]`, "99")
	b.click(`.deploy-form button[type=submit]`)
	b.waitText(`.field[data-field="inputs.num_cpus"] .field-error`, "from 1 to 16")
	b.fill(`[name="inputs.num_cpus"]`, "1")
	// The pattern is the server's to check: its 422 lands next to the field.
	b.fill(`[name="inputs.vm_name"]`, "My VM")
	b.fill(`input[name=description]`, "ui test vm")
	b.setValue(`textarea[name=labels]`, "project=ui")
	b.click(`.deploy-form button[type=submit]`)
	b.waitText(`.field[data-field="inputs.vm_name"] .field-error`, "vm_name")
	if eval[string](b, `document.activeElement.name`) != "inputs.vm_name" {
		t.Error("focus did not move to the field the server rejected")
	}
	b.shot("deploy-form-error")
	b.fill(`[name="inputs.vm_name"]`, "ui-vm")
	b.click(`.deploy-form .actions button[type=button]`) // Preview plan
	b.waitText(".plan-summary", "to add")
	if !strings.Contains(eval[string](b, `document.querySelector('.plan').innerText`), "module.vm") {
		t.Error("the plan preview does not list the VM")
	}
	b.shot("deploy-plan")
	b.click(`.deploy-form button[type=submit]`)
	b.wait("the deployment page", `location.pathname.startsWith('/deployments/') && document.querySelector('h1') && document.querySelector('h1').textContent === 'ui test vm'`, 30*time.Second)
	id := strings.TrimPrefix(b.path(), "/deployments/")

	// --- watches it reach CREATE_COMPLETE without reloading ---
	eval[bool](b, `(window.__sameDocument = true)`)
	b.wait("CREATE_COMPLETE", `document.querySelector('.status-cell [data-status="CREATE_COMPLETE"]')`, 3*time.Minute)
	if !eval[bool](b, `window.__sameDocument === true`) {
		t.Fatal("the page reloaded to show the new status")
	}
	b.waitFor(`tr[data-node=vm] [data-status=STARTED]`)
	b.waitText(`.output[data-output=public_ip] dd`, ".")
	b.waitFor(`.output[data-output=ssh_command] button`)
	b.shot("deployment-overview")

	// --- stops and starts the VM ---
	b.click(`tr[data-node=vm] button[data-action=stop]`)
	b.wait("the VM stopped", `document.querySelector('tr[data-node=vm] [data-status=STOPPED]')`, time.Minute)
	b.click(`tr[data-node=vm] button[data-action=start]`)
	b.wait("the VM started", `document.querySelector('tr[data-node=vm] [data-status=STARTED]') && !document.querySelector('tr[data-node=vm] button[data-action=start]:not([disabled])')`, time.Minute)

	// --- updates an input after a plan preview ---
	b.click(`#tab-update`)
	b.waitFor(`.update-form [name="inputs.num_cpus"]`)
	b.fill(`.update-form [name="inputs.num_cpus"]`, "2")
	b.click(`.update-form .actions button[type=button]`)
	b.waitText(".plan-summary", "1 to change")
	b.shot("deployment-update")
	b.click(`.update-form button[type=submit]`)
	b.wait("UPDATE_COMPLETE", `document.querySelector('.status-cell [data-status="UPDATE_COMPLETE"]')`, 3*time.Minute)

	// --- reads and filters the logs ---
	b.click(`#tab-logs`)
	b.wait("log lines", `document.querySelectorAll('.log-line').length > 5`, 30*time.Second)
	b.shot("deployment-logs")
	b.setValue(`.logs select[name=source]`, "terraform")
	b.wait("terraform lines only", `(() => { const l = [...document.querySelectorAll('.log-line')]; return l.length > 0 && l.every(e => e.dataset.source === 'terraform') })()`, 30*time.Second)
	if !strings.Contains(b.path(), "source=terraform") {
		t.Errorf("the log filter is not in the URL: %s", b.path())
	}
	b.setValue(`.logs select[name=level]`, "error")
	b.waitText(`.log .empty`, "No log lines match")
	b.setValue(`.logs select[name=level]`, "")
	b.setValue(`.logs select[name=source]`, "")
	b.wait("all lines again", `document.querySelectorAll('.log-line').length > 5`, 30*time.Second)
	b.setValue(`.logs input[name=text]`, "Apply complete")
	b.wait("text filter", `(() => { const l = [...document.querySelectorAll('.log-line:not([hidden])')]; return l.length > 0 && l.every(e => e.textContent.includes('Apply complete')) })()`, 10*time.Second)

	for _, tab := range []struct{ name, wait string }{
		{"runs", `document.querySelectorAll('tr[data-run]').length >= 4`},
		{"template", `document.querySelector('.numbered') && document.querySelector('.numbered').textContent.includes('tosca_definitions_version')`},
		{"terraform", `document.querySelector('pre.code') && document.querySelector('pre.code').textContent.includes('./modules/local/compute')`},
		{"state", `document.querySelector('pre.code') && document.querySelector('pre.code').textContent.includes('format_version')`},
	} {
		b.click("#tab-" + tab.name)
		b.wait(tab.name, tab.wait, 60*time.Second)
		b.shot("deployment-" + tab.name)
	}

	// An admin watches the list (deleted ones shown) while the scientist deletes:
	// the status changes there without a reload.
	admin := b.tab()
	admin.visit("/deployments?deleted=1")
	admin.waitText("h1", "Sign in")
	admin.fill(`input[name=username]`, "admin")
	admin.fill(`input[name=password]`, adminPassword)
	admin.click(`button[type=submit]`)
	admin.waitText("h1", "Deployments")
	if p := admin.path(); !strings.HasPrefix(p, "/deployments?") || !strings.Contains(p, "deleted=1") {
		t.Fatalf("sign-in did not return to the page asked for: %s", p)
	}
	admin.waitFor(`tr[data-id="` + id + `"] [data-status=UPDATE_COMPLETE]`)
	admin.waitText(`tr[data-id="`+id+`"]`, "scientist") // the owners column
	eval[bool](admin, `(window.__sameDocument = true)`)

	// --- deletes, and still reads the logs ---
	b.click(`#tab-overview`)
	b.click(`.deployment-head .btn-danger`)
	b.click(`dialog button[value=ok]`)
	b.wait("DELETE_COMPLETE", `document.querySelector('.status-cell [data-status="DELETE_COMPLETE"]')`, 3*time.Minute)
	b.click(`#tab-logs`)
	b.waitText(`.log`, "Destruction complete")
	b.shot("deployment-deleted")
	admin.wait("the admin's list shows the deletion", `document.querySelector('tr[data-id="`+id+`"] [data-status=DELETE_COMPLETE]')`, time.Minute)
	if !eval[bool](admin, `window.__sameDocument === true`) {
		t.Fatal("the list reloaded to show the new status")
	}
	admin.shot("deployments-admin")
	admin.fill(`.filters input[name=owner]`, "nobody-here")
	admin.waitText(".notice-bad", `no user with id or username "nobody-here"`)
	admin.fill(`.filters input[name=owner]`, "scientist")
	admin.waitFor(`tr[data-id="` + id + `"]`)
	if !strings.Contains(admin.path(), "owner=scientist") {
		t.Errorf("the owner filter is not in the URL: %s", admin.path())
	}

	// My deployments: filters live in the URL.
	b.click(`.nav a[href="/deployments"]`)
	b.waitText("h1", "My deployments")
	b.waitText(".empty", "No deployments yet")
	b.click(`.filters input[name=deleted]`)
	b.waitFor(`tr[data-id="` + id + `"]`)
	b.setValue(`.filters select[name=status]`, "DELETE_COMPLETE")
	b.wait("the status filter in the URL", `location.search.includes('status=DELETE_COMPLETE') && location.search.includes('deleted=1')`, 10*time.Second)
	b.waitFor(`tr[data-id="` + id + `"] [data-status=DELETE_COMPLETE]`)
	b.shot("deployments")

	// --- another user cannot open that deployment's page ---
	bob := b.tab()
	bob.visit("/signup")
	bob.fill(`input[name=username]`, "bob")
	bob.fill(`input[name=password]`, "bob-password")
	bob.fill(`input[name=confirm]`, "bob-password")
	bob.click(`button[type=submit]`)
	bob.waitText("h1", "Catalog")
	bob.visit("/deployments/" + id)
	bob.waitText(".error-panel h2", "Not found")
	bob.shot("not-found")

	// --- an admin adds a template with an error, sees the line, fixes it ---
	admin.click(`.nav a[href="/admin/users"]`)
	admin.click(`.subnav a[href="/admin/templates"]`)
	admin.waitText("h1", "Templates")
	admin.shot("admin-templates")
	admin.click(`a[href="/admin/templates/new"]`)
	admin.waitText("h1", "Add a template")
	admin.fill(`input[name=name]`, "two-cpus")
	admin.fill(`input[name=version]`, "1")
	admin.setValue(`textarea[name=content]`, badTemplate)
	admin.click(`.template-form button[type=submit]`)
	admin.waitFor(`.gutter .has-error[data-line="9"]`)
	admin.waitText(`.editor-problems li[data-line="9"]`, "Line 9, column 23")
	admin.shot("admin-template-error")
	admin.setValue(`textarea[name=content]`, strings.Replace(badTemplate, "lots", "2", 1))
	admin.click(`.template-form button[type=submit]`)
	admin.waitFor(`tr[data-template="two-cpus"]`)

	// Users, targets (credentials write-only).
	admin.click(`.subnav a[href="/admin/users"]`)
	admin.waitFor(`tr[data-user=bob]`)
	admin.shot("admin-users")
	admin.click(`.subnav a[href="/admin/targets"]`)
	admin.waitFor(`tr[data-target=local]`)
	admin.click(`a[href="/admin/targets/new"]`)
	admin.waitText("h1", "Add a target")
	admin.fill(`input[name=name]`, "cloud-a")
	admin.setValue(`.cred-row:nth-child(1) input`, "https://keystone.example.org:5000/v3")
	admin.setValue(`.cred-row:nth-child(3) input`, "s3cr3t-credential")
	admin.shot("admin-target-form")
	admin.click(`form button[type=submit]`)
	admin.waitFor(`tr[data-target=cloud-a]`)
	admin.waitText(`tr[data-target=cloud-a]`, "set")
	admin.shot("admin-targets")
	admin.click(`tr[data-target=cloud-a] a`)
	admin.waitText("h1", "Target cloud-a")
	admin.waitText(".creds + button, fieldset p", "write-only")
	if strings.Contains(eval[string](admin, `document.documentElement.outerHTML + [...document.querySelectorAll('input,textarea')].map(e => e.value).join()`), "s3cr3t") {
		t.Fatal("a target credential came back to the browser")
	}

	// --- adds an owner by username; the owner can now open the page ---
	admin.visit("/deployments/" + id + "?tab=owners")
	admin.waitFor(`li[data-owner=scientist]`)
	admin.fill(`.tab-panel input[name=username]`, "bob")
	admin.click(`.tab-panel form button[type=submit]`)
	admin.waitFor(`li[data-owner=bob]`)
	admin.shot("deployment-owners")
	bob.visit("/deployments/" + id)
	bob.waitText("h1", "ui test vm")

	// --- purges logs (nothing is 30 days old yet) ---
	admin.visit("/admin/logs")
	admin.fill(`input[name=older_than]`, "30")
	admin.click(`form button[type=submit]`)
	admin.click(`dialog button[value=ok]`)
	admin.waitText(`.notice-good`, "0 log lines older than")
	admin.shot("admin-logs")

	// --- hard-deletes ---
	admin.visit("/deployments/" + id)
	admin.waitText("h1", "ui test vm")
	admin.click(`.deployment-head .btn-danger-outline`)
	admin.click(`dialog button[value=ok]`)
	admin.wait("back on the list", `location.pathname === '/deployments'`, 30*time.Second)
	admin.visit("/deployments/" + id)
	admin.waitText(".error-panel h2", "Not found")
	token := eval[string](admin, `JSON.parse(sessionStorage.getItem('orchestrator.session')).token`)
	if code, _ := svc.apiGet(t, "/api/v1/deployments/"+id+"/logs", token); code != 404 {
		t.Fatalf("after a hard delete the logs answer %d", code)
	}
}

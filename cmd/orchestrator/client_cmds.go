package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
)

type table struct{ w *tabwriter.Writer }

func newTable(out io.Writer, headers ...string) *table {
	t := &table{w: tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)}
	fmt.Fprintln(t.w, strings.Join(headers, "\t"))
	return t
}

func (t *table) row(cells ...any) {
	parts := make([]string, len(cells))
	for i, c := range cells {
		if c == nil {
			c = ""
		}
		parts[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(t.w, strings.Join(parts, "\t"))
}

func (t *table) flush() { t.w.Flush() }

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// readPassword prompts on the terminal without echo.
func readPassword(prompt io.Writer, text string) (string, error) {
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return "", usageErr("no terminal to ask for the password: use --password-stdin")
	}
	defer tty.Close()
	fmt.Fprint(prompt, text)
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(prompt)
	return string(pw), err
}

func cmdTemplates(c *client, args []string) error {
	if len(args) == 0 {
		return usageErr("usage: orchestrator templates list | show ID | add --name N --version V FILE | rm ID")
	}
	f, err := parseFlags(args[1:])
	if err != nil {
		return err
	}
	switch args[0] {
	case "list":
		var list struct{ Items []map[string]any }
		raw, err := c.call("GET", "/api/v1/templates?size=1000", nil, &list)
		if err != nil {
			return err
		}
		c.print(raw, func() {
			w := newTable(c.stdout, "ID", "NAME", "VERSION", "DESCRIPTION")
			for _, t := range list.Items {
				w.row(t["id"], t["name"], t["version"], firstLineOf(fmt.Sprint(t["description"]), 60))
			}
			w.flush()
		})
	case "show":
		if len(f.pos) != 1 {
			return usageErr("usage: orchestrator templates show ID")
		}
		id, err := c.templateID(f.pos[0])
		if err != nil {
			return err
		}
		var t struct {
			ID, Name, Version, Description string
			Inputs                         []map[string]any
		}
		raw, err := c.call("GET", "/api/v1/templates/"+url.PathEscape(id), nil, &t)
		if err != nil {
			return err
		}
		c.print(raw, func() {
			fmt.Fprintf(c.stdout, "%s %s (%s)\n%s\n\nInputs:\n", t.Name, t.Version, t.ID, strings.TrimSpace(t.Description))
			w := newTable(c.stdout, "  NAME", "TYPE", "DEFAULT", "CONSTRAINTS", "DESCRIPTION")
			for _, in := range t.Inputs {
				cons, _ := json.Marshal(in["constraints"])
				def := ""
				if d, ok := in["default"]; ok {
					dj, _ := json.Marshal(d)
					def = string(dj)
				}
				w.row("  "+fmt.Sprint(in["name"]), in["type"], def, string(cons), in["description"])
			}
			w.flush()
		})
	case "add":
		if len(f.pos) != 1 || f.get("name") == "" || f.get("version") == "" {
			return usageErr("usage: orchestrator templates add --name N --version V FILE [--description D]")
		}
		content, err := os.ReadFile(f.pos[0])
		if err != nil {
			return usageErr("%v", err)
		}
		body := map[string]string{"name": f.get("name"), "version": f.get("version"), "content": string(content)}
		if d := f.get("description"); d != "" {
			body["description"] = d
		}
		var t map[string]any
		raw, err := c.call("POST", "/api/v1/templates", body, &t)
		if err != nil {
			return err
		}
		c.print(raw, func() { fmt.Fprintf(c.stdout, "added template %s (%s %s)\n", t["id"], t["name"], t["version"]) })
	case "rm":
		if len(f.pos) != 1 {
			return usageErr("usage: orchestrator templates rm ID")
		}
		id, err := c.templateID(f.pos[0])
		if err != nil {
			return err
		}
		if _, err := c.call("DELETE", "/api/v1/templates/"+url.PathEscape(id), nil, nil); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, "removed template", id)
	default:
		return usageErr("unknown templates command %q", args[0])
	}
	return nil
}

// templateID accepts a template id or a catalog name (its newest version).
func (c *client) templateID(ref string) (string, error) {
	var list struct {
		Items []struct{ ID, Name, Version string }
	}
	if _, err := c.call("GET", "/api/v1/templates?size=1000&name="+url.QueryEscape(ref), nil, &list); err != nil {
		return "", err
	}
	if len(list.Items) > 0 {
		return list.Items[len(list.Items)-1].ID, nil
	}
	return ref, nil
}

func firstLineOf(s string, n int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > n {
		s = s[:n-1] + "…"
	}
	return s
}

func labels(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, usageErr("--label wants KEY=VALUE, got %q", p)
		}
		out[k] = v
	}
	return out, nil
}

func cmdDeploy(c *client, args []string) error {
	f, err := parseFlags(args, "wait")
	if err != nil {
		return err
	}
	if len(f.pos) != 1 {
		return usageErr("usage: orchestrator deploy TEMPLATE_OR_FILE [--input k=v ...] [--target T] [--description D] [--label k=v] [--wait]")
	}
	inputs, err := parseInputs(f.values["input"])
	if err != nil {
		return usageErr("%v", err)
	}
	body := map[string]any{"inputs": inputs}
	if content, err := os.ReadFile(f.pos[0]); err == nil {
		body["template"] = string(content)
	} else {
		id, err := c.templateID(f.pos[0])
		if err != nil {
			return err
		}
		body["template_id"] = id
	}
	if t := f.get("target"); t != "" {
		body["target"] = t
	}
	if d := f.get("description"); d != "" {
		body["description"] = d
	}
	if l, err := labels(f.values["label"]); err != nil {
		return err
	} else if len(l) > 0 {
		body["labels"] = l
	}
	var d deploymentOut
	raw, err := c.call("POST", "/api/v1/deployments", body, &d)
	if err != nil {
		return err
	}
	if !f.has("wait") {
		c.print(raw, func() { fmt.Fprintf(c.stdout, "deployment %s submitted (%s)\n", d.ID, d.Status) })
		return nil
	}
	if !c.json {
		fmt.Fprintf(c.stdout, "deployment %s submitted\n", d.ID)
	}
	return c.follow(d.ID, true)
}

type deploymentOut struct {
	ID           string `json:"id"`
	Description  string `json:"description"`
	Status       string `json:"status"`
	StatusReason string `json:"status_reason"`
	Progress     struct{ Done, Planned int }
	Target       string            `json:"target"`
	TemplateID   *string           `json:"template_id"`
	Owners       []string          `json:"owners"`
	Labels       map[string]string `json:"labels"`
	Inputs       map[string]any    `json:"inputs"`
	CreatedAt    string            `json:"created_at"`
}

func cmdDeployments(c *client, args []string) error {
	if len(args) == 0 {
		return usageErr("usage: orchestrator deployments list | show ID | update ID | delete ID | reset ID | owners ID")
	}
	f, err := parseFlags(args[1:], "wait", "redeploy", "hard", "force", "all")
	if err != nil {
		return err
	}
	one := func() (string, error) {
		if len(f.pos) < 1 {
			return "", usageErr("usage: orchestrator deployments %s ID", args[0])
		}
		return url.PathEscape(f.pos[0]), nil
	}
	switch args[0] {
	case "list":
		q := url.Values{}
		for _, s := range f.values["status"] {
			q.Add("status", s)
		}
		for _, k := range []string{"page", "size", "sort", "q", "target", "owner", "label"} {
			for _, v := range f.values[k] {
				q.Add(k, v)
			}
		}
		if f.has("all") {
			q.Set("include_deleted", "true")
		}
		var list struct {
			Items []deploymentOut
			Page  struct{ Number, Size, TotalItems, TotalPages int } `json:"page"`
		}
		raw, err := c.call("GET", "/api/v1/deployments?"+q.Encode(), nil, &list)
		if err != nil {
			return err
		}
		c.print(raw, func() {
			w := newTable(c.stdout, "ID", "STATUS", "PROGRESS", "TARGET", "CREATED", "DESCRIPTION")
			for _, d := range list.Items {
				w.row(d.ID, d.Status, fmt.Sprintf("%d/%d", d.Progress.Done, d.Progress.Planned), d.Target, shortTime(d.CreatedAt), firstLineOf(d.Description, 40))
			}
			w.flush()
		})
	case "show":
		id, err := one()
		if err != nil {
			return err
		}
		var d deploymentOut
		raw, err := c.call("GET", "/api/v1/deployments/"+id, nil, &d)
		if err != nil {
			return err
		}
		c.print(raw, func() {
			fmt.Fprintf(c.stdout, "id:          %s\nstatus:      %s\n", d.ID, d.Status)
			if d.StatusReason != "" {
				fmt.Fprintf(c.stdout, "reason:      %s\n", d.StatusReason)
			}
			inputs, _ := json.Marshal(d.Inputs)
			fmt.Fprintf(c.stdout, "progress:    %d/%d\ntarget:      %s\ndescription: %s\ninputs:      %s\nowners:      %s\ncreated:     %s\n",
				d.Progress.Done, d.Progress.Planned, d.Target, d.Description, inputs, strings.Join(d.Owners, ", "), shortTime(d.CreatedAt))
		})
	case "update":
		id, err := one()
		if err != nil {
			return err
		}
		inputs, err := parseInputs(f.values["input"])
		if err != nil {
			return usageErr("%v", err)
		}
		body := map[string]any{"redeploy": f.has("redeploy")}
		if len(inputs) > 0 {
			body["inputs"] = inputs
		}
		if t := f.get("template"); t != "" {
			content, err := os.ReadFile(t)
			if err != nil {
				return usageErr("%v", err)
			}
			body["template"] = string(content)
		}
		var d deploymentOut
		raw, err := c.call("PUT", "/api/v1/deployments/"+id, body, &d)
		if err != nil {
			return err
		}
		if f.has("wait") {
			return c.follow(d.ID, true)
		}
		c.print(raw, func() { fmt.Fprintf(c.stdout, "deployment %s: %s\n", d.ID, d.Status) })
	case "delete":
		id, err := one()
		if err != nil {
			return err
		}
		q := ""
		if f.has("hard") {
			q = "?hard=true"
			if f.has("force") {
				q += "&force=true"
			}
		}
		var d deploymentOut
		raw, err := c.call("DELETE", "/api/v1/deployments/"+id+q, nil, &d)
		if err != nil {
			return err
		}
		if f.has("hard") {
			fmt.Fprintln(c.stdout, "deployment", f.pos[0], "removed with everything stored for it")
			return nil
		}
		if f.has("wait") {
			return c.follow(d.ID, true)
		}
		c.print(raw, func() { fmt.Fprintf(c.stdout, "deployment %s: %s\n", d.ID, d.Status) })
	case "reset":
		id, err := one()
		if err != nil {
			return err
		}
		var d deploymentOut
		raw, err := c.call("POST", "/api/v1/deployments/"+id+"/reset", nil, &d)
		if err != nil {
			return err
		}
		c.print(raw, func() { fmt.Fprintf(c.stdout, "deployment %s: %s (%s)\n", d.ID, d.Status, d.StatusReason) })
	case "owners":
		id, err := one()
		if err != nil {
			return err
		}
		var raw []byte
		switch {
		case len(f.pos) == 3 && f.pos[1] == "add":
			raw, err = c.call("POST", "/api/v1/deployments/"+id+"/owners", map[string]string{"user": f.pos[2]}, nil)
		case len(f.pos) == 3 && f.pos[1] == "rm":
			_, err = c.call("DELETE", "/api/v1/deployments/"+id+"/owners/"+url.PathEscape(f.pos[2]), nil, nil)
			if err == nil {
				raw, err = c.call("GET", "/api/v1/deployments/"+id+"/owners", nil, nil)
			}
		case len(f.pos) == 1:
			raw, err = c.call("GET", "/api/v1/deployments/"+id+"/owners", nil, nil)
		default:
			return usageErr("usage: orchestrator deployments owners ID [add USER | rm USER]   (USER: a username or user id)")
		}
		if err != nil {
			return err
		}
		var list struct{ Items []map[string]any }
		json.Unmarshal(raw, &list)
		c.print(raw, func() {
			w := newTable(c.stdout, "ID", "USERNAME", "NAME")
			for _, o := range list.Items {
				w.row(o["id"], o["username"], o["name"])
			}
			w.flush()
		})
	default:
		return usageErr("unknown deployments command %q", args[0])
	}
	return nil
}

type resourceOut struct {
	ID         string         `json:"id"`
	Node       string         `json:"node"`
	Instance   int            `json:"instance"`
	Kind       string         `json:"kind"`
	ToscaType  string         `json:"tosca_type"`
	CloudID    string         `json:"cloud_id"`
	State      string         `json:"state"`
	Attributes map[string]any `json:"attributes"`
}

func cmdResources(c *client, args []string) error {
	if len(args) == 0 {
		return usageErr("usage: orchestrator resources list ID | start|stop|reboot ID RESOURCE [--wait]")
	}
	f, err := parseFlags(args[1:], "wait")
	if err != nil {
		return err
	}
	if len(f.pos) < 1 {
		return usageErr("usage: orchestrator resources %s DEPLOYMENT_ID ...", args[0])
	}
	dep := url.PathEscape(f.pos[0])
	var list struct{ Items []resourceOut }
	raw, err := c.call("GET", "/api/v1/deployments/"+dep+"/resources", nil, &list)
	if err != nil {
		return err
	}
	switch args[0] {
	case "list":
		c.print(raw, func() {
			w := newTable(c.stdout, "ID", "NODE", "KIND", "STATE", "CLOUD ID", "ADDRESSES")
			for _, r := range list.Items {
				addrs := []string{}
				for _, k := range []string{"private_address", "public_address", "ip_address"} {
					if v, ok := r.Attributes[k].(string); ok && v != "" {
						addrs = append(addrs, v)
					}
				}
				w.row(r.ID, fmt.Sprintf("%s[%d]", r.Node, r.Instance), r.Kind, r.State, r.CloudID, strings.Join(addrs, " "))
			}
			w.flush()
		})
		return nil
	case "start", "stop", "reboot":
		if len(f.pos) != 2 {
			return usageErr("usage: orchestrator resources %s DEPLOYMENT_ID RESOURCE (an id, or node[index])", args[0])
		}
		rid := ""
		for _, r := range list.Items {
			if r.ID == f.pos[1] || fmt.Sprintf("%s[%d]", r.Node, r.Instance) == f.pos[1] || (r.Node == f.pos[1] && r.Instance == 0) {
				rid = r.ID
				break
			}
		}
		if rid == "" {
			return &exitError{code: exitFailed, msg: fmt.Sprintf("deployment %s has no resource %q", f.pos[0], f.pos[1])}
		}
		var run map[string]any
		raw, err := c.call("POST", "/api/v1/deployments/"+dep+"/resources/"+url.PathEscape(rid)+"/actions", map[string]string{"action": args[0]}, &run)
		if err != nil {
			return err
		}
		if f.has("wait") {
			return c.waitRun(fmt.Sprint(run["id"]))
		}
		c.print(raw, func() { fmt.Fprintf(c.stdout, "%s of %s queued as run %s\n", args[0], f.pos[1], run["id"]) })
		return nil
	}
	return usageErr("unknown resources command %q", args[0])
}

// waitRun polls a run until it ends; failure is exit code 1 with the run's error.
func (c *client) waitRun(id string) error {
	for {
		var r struct{ Status, Error string }
		if _, err := c.call("GET", "/api/v1/runs/"+url.PathEscape(id), nil, &r); err != nil {
			return err
		}
		switch r.Status {
		case "succeeded":
			fmt.Fprintf(c.stdout, "run %s succeeded\n", id)
			return nil
		case "failed", "cancelled":
			return &exitError{code: exitFailed, msg: fmt.Sprintf("run %s %s: %s", id, r.Status, r.Error)}
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func cmdLogs(c *client, args []string) error {
	f, err := parseFlags(args, "f", "follow")
	if err != nil {
		return err
	}
	if len(f.pos) != 1 {
		return usageErr("usage: orchestrator logs DEPLOYMENT_ID [-f]")
	}
	if f.has("f") || f.has("follow") {
		return c.follow(f.pos[0], false)
	}
	q := url.Values{"size": {"1000"}}
	for _, k := range []string{"level", "source", "run_id", "since", "until"} {
		if v := f.get(k); v != "" {
			q.Set(k, v)
		}
	}
	for page := 1; ; page++ {
		q.Set("page", fmt.Sprint(page))
		var list struct {
			Items []logLine
			Page  struct {
				TotalPages int `json:"total_pages"`
			} `json:"page"`
		}
		raw, err := c.call("GET", "/api/v1/deployments/"+url.PathEscape(f.pos[0])+"/logs?"+q.Encode(), nil, &list)
		if err != nil {
			return err
		}
		if c.json {
			c.stdout.Write(raw)
			fmt.Fprintln(c.stdout)
		} else {
			for _, l := range list.Items {
				fmt.Fprintln(c.stdout, l.String())
			}
		}
		if page >= list.Page.TotalPages {
			return nil
		}
	}
}

type logLine struct {
	Seq      int64  `json:"seq"`
	Time     string `json:"time"`
	Level    string `json:"level"`
	Source   string `json:"source"`
	RunID    string `json:"run_id"`
	Resource string `json:"resource"`
	Message  string `json:"message"`
}

func (l logLine) String() string {
	t := l.Time
	if p, err := time.Parse(time.RFC3339Nano, l.Time); err == nil {
		t = p.Local().Format("15:04:05")
	}
	res := ""
	if l.Resource != "" {
		res = " [" + l.Resource + "]"
	}
	return fmt.Sprintf("%s %-5s %-12s%s %s", t, l.Level, l.Source, res, l.Message)
}

// follow streams a deployment's log (Server-Sent Events) until its runs end. On
// a terminal it keeps a progress bar under the lines; piped, it prints plain
// lines. When exitOnFailure, a failed deployment is exit code 1.
func (c *client) follow(id string, exitOnFailure bool) error {
	lastID := ""
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest("GET", c.base+"/api/v1/deployments/"+url.PathEscape(id)+"/logs?follow=true", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "text/event-stream")
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID) // resume where the stream broke
		}
		res, err := (&http.Client{}).Do(req)
		if err != nil {
			if attempt < 5 {
				time.Sleep(time.Second)
				continue
			}
			return fmt.Errorf("follow logs: %w", err)
		}
		if res.StatusCode != 200 {
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var ae apiError
			json.Unmarshal(data, &ae)
			return &exitError{code: exitFailed, msg: fmt.Sprintf("follow logs: %s (%d)", ae.Error.Message, res.StatusCode)}
		}
		end, err := c.readEvents(res.Body, &lastID)
		res.Body.Close()
		if err == nil && end != nil {
			c.clearBar()
			status, _ := end["status"].(string)
			if !c.json {
				fmt.Fprintf(c.stdout, "deployment %s: %s\n", id, status)
			}
			if exitOnFailure && strings.HasSuffix(status, "_FAILED") {
				reason, _ := end["status_reason"].(string)
				return &exitError{code: exitFailed, msg: fmt.Sprintf("deployment %s %s: %s", id, status, reason)}
			}
			return nil
		}
		if attempt >= 5 {
			return fmt.Errorf("the log stream keeps breaking: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// readEvents reads one SSE stream; it returns the "end" event's data.
func (c *client) readEvents(body io.Reader, lastID *string) (map[string]any, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			*lastID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "":
			switch event {
			case "log":
				var l logLine
				if json.Unmarshal([]byte(data), &l) == nil {
					c.clearBar()
					if c.json {
						fmt.Fprintln(c.stdout, data)
					} else {
						fmt.Fprintln(c.stdout, l.String())
					}
				}
			case "status":
				var s struct {
					Status   string `json:"status"`
					Progress struct{ Done, Planned int }
				}
				if json.Unmarshal([]byte(data), &s) == nil {
					c.drawBar(s.Status, s.Progress.Done, s.Progress.Planned)
				}
			case "end":
				var end map[string]any
				json.Unmarshal([]byte(data), &end)
				return end, nil
			}
			event, data = "", ""
		}
	}
	return nil, fmt.Errorf("stream ended: %v", sc.Err())
}

// drawBar shows "[#####     ] 3/6 CREATE_IN_PROGRESS" on a terminal (stderr, so
// piped stdout stays clean); piped, it prints nothing.
func (c *client) drawBar(status string, done, planned int) {
	if !c.tty || c.json {
		return
	}
	const width = 30
	filled := 0
	if planned > 0 {
		filled = done * width / planned
	}
	fmt.Fprintf(c.stdout, "\r[%s%s] %d/%d %s\x1b[K", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), done, planned, status)
}

func (c *client) clearBar() {
	if c.tty && !c.json {
		fmt.Fprint(c.stdout, "\r\x1b[K")
	}
}

func cmdOutputs(c *client, args []string) error {
	if len(args) != 1 {
		return usageErr("usage: orchestrator outputs DEPLOYMENT_ID")
	}
	var out struct {
		Outputs map[string]any
		History bool
		Note    string
	}
	raw, err := c.call("GET", "/api/v1/deployments/"+url.PathEscape(args[0])+"/outputs", nil, &out)
	if err != nil {
		return err
	}
	c.print(raw, func() {
		if out.History {
			fmt.Fprintf(c.stdout, "HISTORY: %s\n\n", out.Note)
		}
		w := newTable(c.stdout, "NAME", "VALUE")
		for _, k := range slices.Sorted(maps.Keys(out.Outputs)) {
			v, _ := json.Marshal(out.Outputs[k])
			w.row(k, string(v))
		}
		w.flush()
	})
	return nil
}

func cmdState(c *client, args []string) error {
	if len(args) != 1 {
		return usageErr("usage: orchestrator state DEPLOYMENT_ID")
	}
	raw, err := c.call("GET", "/api/v1/deployments/"+url.PathEscape(args[0])+"/state", nil, nil)
	if err != nil {
		return err
	}
	c.json = true // the terraform show view is JSON
	c.print(raw, nil)
	return nil
}

// shortTime shows an API timestamp to the second, in local time: tables have no
// room (and readers no use) for nanoseconds. -o json keeps the API's form.
func shortTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

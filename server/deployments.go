package server

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// DeploymentJSON is a deployment as the API shows it.
type DeploymentJSON struct {
	ID           string            `json:"id"`
	Description  string            `json:"description"`
	Labels       map[string]string `json:"labels"`
	Status       store.Status      `json:"status"`
	StatusReason string            `json:"status_reason"`
	Progress     store.Progress    `json:"progress"`
	TemplateID   *string           `json:"template_id"`
	Target       string            `json:"target"`
	Inputs       json.RawMessage   `json:"inputs"`
	Owners       []string          `json:"owners"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	DeletedAt    *time.Time        `json:"deleted_at"`
	Links        map[string]string `json:"links"`
}

// deploymentFields are the names `fields=` may project.
var deploymentFields = map[string]bool{"id": true, "description": true, "labels": true, "status": true, "status_reason": true,
	"progress": true, "template_id": true, "target": true, "inputs": true, "owners": true, "created_at": true,
	"updated_at": true, "deleted_at": true, "links": true}

func deploymentJSON(d *store.Deployment) DeploymentJSON {
	base := "/api/v1/deployments/" + d.ID
	out := DeploymentJSON{ID: d.ID, Description: d.Description, Labels: d.Labels, Status: d.Status, StatusReason: d.StatusReason,
		Progress: d.Progress, Target: d.Target, Inputs: d.Inputs, Owners: d.Owners, CreatedAt: d.CreatedAt,
		UpdatedAt: d.UpdatedAt, DeletedAt: d.DeletedAt,
		Links: map[string]string{"self": base, "resources": base + "/resources", "logs": base + "/logs", "template": base + "/template"}}
	if d.TemplateID != "" {
		id := d.TemplateID
		out.TemplateID = &id
	}
	if len(out.Inputs) == 0 {
		out.Inputs = json.RawMessage("{}")
	}
	return out
}

type submitRequest struct {
	TemplateID  *string           `json:"template_id"`
	Template    *string           `json:"template"`
	Inputs      map[string]any    `json:"inputs"`
	Target      *string           `json:"target"`
	Description *string           `json:"description"`
	Labels      map[string]string `json:"labels"`
	// Strict refuses a template with nodes orchestrator would only record
	// (orchestrator-side services such as DNS records or IAM clients).
	Strict *bool `json:"strict"`
}

var validLabelKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$`)

func checkLabels(labels map[string]string) error {
	if len(labels) > 50 {
		return invalid("labels", "at most 50 labels")
	}
	for k, v := range labels {
		if !validLabelKey.MatchString(k) {
			return invalid("labels."+truncate(k, 60), "label keys are 1 to 63 letters, digits, '.', '_', '/' or '-'")
		}
		if err := checkText("labels."+k, v, 255); err != nil {
			return err
		}
	}
	return nil
}

// translateFor checks a deployment's template and inputs against its target, the
// way the engine will run them: 422 naming the template line or each bad input.
func (s *Server) translateFor(ctx context.Context, d *store.Deployment, strict bool) (*tosca2tf.Result, error) {
	res, err := s.engine.Translate(ctx, d)
	if err != nil {
		return nil, templateErrors(err, "template")
	}
	if err := s.checkSize(res); err != nil {
		return nil, err
	}
	if strict {
		if err := refuseRecorded(res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// refuseRecorded is strict mode: a template whose nodes would only be recorded
// (no module deploys them; their attributes are null) is refused, each such node
// named at its line, instead of accepted with a warning.
func refuseRecorded(res *tosca2tf.Result) error {
	var recorded []tosca2tf.NodeInfo
	for _, n := range res.Nodes {
		if n.Kind == "recorded" {
			recorded = append(recorded, n)
		}
	}
	if len(recorded) == 0 {
		return nil
	}
	first := recorded[0]
	e := store.Errorf(store.EInvalid, "strict mode: line %d: node %q (%s) would only be recorded, not deployed", first.Pos.Line, first.Name, first.ToscaType)
	for _, n := range recorded {
		e.WithDetails(store.Detail{Field: "template", File: n.Pos.File, Line: n.Pos.Line, Column: n.Pos.Column,
			Message: fmt.Sprintf("node %q (%s) would only be recorded: %s; strict mode refuses it", n.Name, n.ToscaType, n.Note),
			Extra:   map[string]any{"kind": string(tosca2tf.KindUnsupported), "node": n.Name}})
	}
	return e
}

// parseDeploymentTemplate checks a template sent with a deployment, refusing
// one over the node cap before the (costlier) translation.
func (s *Server) parseDeploymentTemplate(ctx context.Context, content string) (*tosca2tf.Template, error) {
	t, err := s.parseTemplate(ctx, "template.yaml", content, "template")
	if err != nil {
		return nil, err
	}
	if len(t.Nodes) > s.cfg.MaxNodes {
		return nil, tooManyNodes(len(t.Nodes), s.cfg.MaxNodes)
	}
	return t, nil
}

func tooManyNodes(n, max int) error {
	return store.Errorf(store.EInvalid, "the template has %d node templates; this service allows at most %d per deployment", n, max).
		WithDetails(store.Detail{Field: "template", Message: "too many node templates", Extra: map[string]any{"nodes": n, "max_nodes": max}})
}

// checkSize refuses deployments over the configured node and instance caps: one
// user's 10,000-node template must not tie up a worker for minutes.
func (s *Server) checkSize(res *tosca2tf.Result) error {
	instances := 0
	for _, n := range res.Nodes {
		if n.Count > 1 {
			instances += n.Count
		} else {
			instances++ // a count not known before the apply is bounded per node by the translator
		}
	}
	if len(res.Nodes) > s.cfg.MaxNodes {
		return tooManyNodes(len(res.Nodes), s.cfg.MaxNodes)
	}
	if instances > s.cfg.MaxInstances {
		return store.Errorf(store.EInvalid, "the deployment would have %d node instances (counts included); this service allows at most %d",
			instances, s.cfg.MaxInstances).WithDetails(store.Detail{Field: "template", Message: "too many instances",
			Extra: map[string]any{"instances": instances, "max_instances": s.cfg.MaxInstances}})
	}
	return nil
}

// submit creates a deployment: from a catalog template or an inline one, with
// inputs checked before anything runs. The create run is queued in the same
// transaction; the answer is 202 with the deployment in CREATE_IN_PROGRESS.
func (s *Server) submit(c *fiber.Ctx) error {
	d, res, err := s.submission(c)
	if err != nil {
		return err
	}
	created, err := s.create(c.UserContext(), principalOf(c), d, res)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/api/v1/deployments/"+d.ID)
	return c.Status(fiber.StatusAccepted).JSON(submittedJSON{DeploymentJSON: deploymentJSON(created), Warnings: warningsJSON(res.Warnings)})
}

// create stores a checked submission with its create run, in one transaction,
// and wakes the engine. Every way of creating a deployment ends here.
func (s *Server) create(ctx context.Context, p *Principal, d *store.Deployment, res *tosca2tf.Result) (*store.Deployment, error) {
	d.Terraform, d.TFVars = string(res.Main), string(res.Vars)
	run, err := s.store.Deployments.Create(ctx, d, p.User.ID)
	if err != nil {
		return nil, err
	}
	s.logTranslation(ctx, d.ID, run.ID, res)
	s.engine.Wake()
	return s.store.Deployments.Get(ctx, d.ID)
}

// previewSubmit plans a submission without creating anything: the same checks
// as POST /deployments (422 for the same reasons), then a Terraform plan.
func (s *Server) previewSubmit(c *fiber.Ctx) error {
	d, _, err := s.submission(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Minute)
	defer cancel()
	plan, err := s.engine.Plan(ctx, d, false)
	if err != nil {
		return store.Errorf(store.EInvalid, "plan failed: %s", truncate(err.Error(), 2000))
	}
	return c.JSON(plan)
}

// submission reads and checks a submission (template, target, description,
// labels, inputs) and translates it the way the create run will.
func (s *Server) submission(c *fiber.Ctx) (*store.Deployment, *tosca2tf.Result, error) {
	var req submitRequest
	if err := decodeJSON(c, &req); err != nil {
		return nil, nil, err
	}
	return s.prepareSubmission(c.UserContext(), principalOf(c), req)
}

// prepareSubmission checks a submission and translates it the way the create
// run will; nothing is stored.
func (s *Server) prepareSubmission(ctx context.Context, p *Principal, req submitRequest) (*store.Deployment, *tosca2tf.Result, error) {
	d := &store.Deployment{ID: store.NewID(), Description: deref(req.Description), Labels: req.Labels, Owners: []string{p.User.ID}}
	switch {
	case req.TemplateID != nil && req.Template != nil:
		return nil, nil, invalid("template", "send either template_id or template, not both")
	case req.TemplateID != nil:
		t, err := s.store.Templates.Get(ctx, *req.TemplateID)
		if store.IsNotFound(err) {
			return nil, nil, invalid("template_id", "template %q does not exist", truncate(*req.TemplateID, 80))
		}
		if err != nil {
			return nil, nil, err
		}
		d.TemplateID, d.Template = t.ID, t.Content
	case req.Template != nil:
		if _, err := s.parseDeploymentTemplate(ctx, *req.Template); err != nil {
			return nil, nil, err
		}
		d.Template = *req.Template
	default:
		return nil, nil, invalid("template_id", "send template_id (a catalog template) or template (TOSCA YAML)")
	}
	d.Target = s.cfg.DefaultTarget
	if req.Target != nil {
		d.Target = *req.Target
	}
	if _, err := s.store.Targets.Get(ctx, d.Target); err != nil {
		if store.IsNotFound(err) {
			return nil, nil, invalid("target", "target %q does not exist", truncate(d.Target, 80))
		}
		return nil, nil, err
	}
	if err := checkText("description", d.Description, 1000); err != nil {
		return nil, nil, err
	}
	if err := checkLabels(req.Labels); err != nil {
		return nil, nil, err
	}
	inputs, err := json.Marshal(orEmpty(req.Inputs))
	if err != nil {
		return nil, nil, invalid("inputs", "inputs must be a JSON object")
	}
	d.Inputs = inputs
	res, err := s.translateFor(ctx, d, req.Strict != nil && *req.Strict)
	if err != nil {
		return nil, nil, err
	}
	return d, res, nil
}

// logTranslation records that the template was accepted; the run logs the
// translator's warnings themselves when it translates again.
func (s *Server) logTranslation(ctx context.Context, deploymentID, runID string, res *tosca2tf.Result) {
	line := &store.LogLine{Level: store.LevelInfo, Source: store.SourceTranslator, RunID: runID,
		Message: fmt.Sprintf("template accepted: %d nodes, %d warnings", len(res.Nodes), len(res.Warnings))}
	if err := s.store.Logs.Append(ctx, deploymentID, line); err != nil {
		s.log.Error("log translation", "deployment", deploymentID, "error", err.Error())
	}
}

// listDeployments lists the caller's deployments (admins: all), newest first.
func (s *Server) listDeployments(c *fiber.Ctx) error {
	return s.cachedList(c, func() (any, error) { return s.deploymentsPage(c) })
}

// deploymentsPage reads the filters, sort and page of a deployment listing.
func (s *Server) deploymentsPage(c *fiber.Ctx) (any, error) {
	q, err := parseQuery(c, "page", "size", "status", "template_id", "target", "label", "created_after", "created_before",
		"q", "sort", "fields", "include_deleted", "owner")
	if err != nil {
		return nil, err
	}
	p := principalOf(c)
	page, err := q.page()
	if err != nil {
		return nil, err
	}
	f := store.DeploymentFilter{TemplateID: q.str("template_id"), Target: q.str("target"), Q: q.str("q")}
	if !p.Admin {
		f.VisibleTo = p.User.ID
		if q.str("owner") != "" {
			return nil, store.Errorf(store.EForbidden, "the owner filter is for admins; you only see your own deployments")
		}
	}
	if ref := q.str("owner"); ref != "" {
		u, err := s.userByRef(c.UserContext(), ref)
		if store.IsNotFound(err) {
			return nil, invalid("owner", "no user with id or username %q", truncate(ref, 100))
		}
		if err != nil {
			return nil, err
		}
		f.Owner = u.ID
	}
	for _, st := range q.all("status") {
		if !knownStatus(st) {
			return nil, store.Errorf(store.EBadRequest, "unknown status %q", truncate(st, 40)).WithDetails(store.Detail{Field: "status", Message: "unknown status"})
		}
		f.Statuses = append(f.Statuses, store.Status(st))
	}
	for _, l := range q.values["label"] {
		k, v, has := strings.Cut(l, "=")
		if !validLabelKey.MatchString(k) {
			return nil, store.Errorf(store.EBadRequest, "label filter %q must be key or key=value", truncate(l, 60)).WithDetails(store.Detail{Field: "label", Message: "bad label filter"})
		}
		f.Labels = append(f.Labels, store.LabelFilter{Key: k, Value: v, HasValue: has})
	}
	if f.CreatedAfter, err = q.timestamp("created_after"); err != nil {
		return nil, err
	}
	if f.CreatedBefore, err = q.timestamp("created_before"); err != nil {
		return nil, err
	}
	if f.IncludeDeleted, err = q.boolean("include_deleted"); err != nil {
		return nil, err
	}
	sortBy, err := parseSort(q.str("sort"))
	if err != nil {
		return nil, err
	}
	fields, err := parseFields(q.str("fields"))
	if err != nil {
		return nil, err
	}
	list, total, err := s.store.Deployments.List(c.UserContext(), f, sortBy, page)
	if err != nil {
		return nil, err
	}
	items := make([]any, 0, len(list))
	for _, d := range list {
		items = append(items, project(deploymentJSON(d), fields))
	}
	return newList(c, items, page, total), nil
}

func knownStatus(s string) bool {
	for _, st := range store.Statuses {
		if string(st) == s {
			return true
		}
	}
	return false
}

func parseSort(spec string) ([]store.SortKey, error) {
	var keys []store.SortKey
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k := store.SortKey{Field: strings.TrimLeft(part, "+-"), Desc: strings.HasPrefix(part, "-")}
		if _, ok := store.DeploymentSortFields[k.Field]; !ok {
			allowed := make([]string, 0, len(store.DeploymentSortFields))
			for f := range store.DeploymentSortFields {
				allowed = append(allowed, f)
			}
			sort.Strings(allowed)
			return nil, store.Errorf(store.EBadRequest, "cannot sort by %q", truncate(k.Field, 40)).
				WithDetails(store.Detail{Field: "sort", Message: "allowed: " + strings.Join(allowed, ", ")})
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func parseFields(spec string) ([]string, error) {
	var fields []string
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !deploymentFields[f] {
			return nil, store.Errorf(store.EBadRequest, "unknown field %q", truncate(f, 40)).WithDetails(store.Detail{Field: "fields", Message: "unknown field " + truncate(f, 40)})
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// project keeps only the requested fields (all when none are named).
func project(d DeploymentJSON, fields []string) any {
	if len(fields) == 0 {
		return d
	}
	raw, _ := json.Marshal(d)
	var all map[string]json.RawMessage
	_ = json.Unmarshal(raw, &all)
	out := map[string]json.RawMessage{}
	for _, f := range fields {
		out[f] = all[f]
	}
	return out
}

func (s *Server) getDeployment(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(deploymentJSON(d))
}

type patchDeploymentRequest struct {
	Description *string           `json:"description"`
	Labels      map[string]string `json:"labels"`
}

// patchDeployment changes description and labels only, in any status.
func (s *Server) patchDeployment(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	var req patchDeploymentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Description != nil {
		if err := checkText("description", *req.Description, 1000); err != nil {
			return err
		}
	}
	if err := checkLabels(req.Labels); err != nil {
		return err
	}
	d, err = s.store.Deployments.UpdateMeta(c.UserContext(), d.ID, store.Meta{Description: req.Description, Labels: req.Labels})
	if err != nil {
		return err
	}
	return c.JSON(deploymentJSON(d))
}

type updateRequest struct {
	Template *string        `json:"template"`
	Inputs   map[string]any `json:"inputs"`
	Redeploy *bool          `json:"redeploy"`
	// Strict refuses nodes that would only be recorded, as at submission.
	Strict *bool `json:"strict"`
}

// updated applies an update request to a copy of the deployment: a new template
// replaces the inputs; inputs alone are merged over the current ones (null resets
// an input to its default).
func (s *Server) updated(c *fiber.Ctx, d *store.Deployment, req updateRequest) (*store.Deployment, error) {
	next := *d
	if req.Template != nil {
		if _, err := s.parseDeploymentTemplate(c.UserContext(), *req.Template); err != nil {
			return nil, err
		}
		next.Template, next.TemplateID = *req.Template, ""
		raw, err := json.Marshal(orEmpty(req.Inputs))
		if err != nil {
			return nil, invalid("inputs", "inputs must be a JSON object")
		}
		next.Inputs = raw
		return &next, nil
	}
	current := map[string]any{}
	if len(d.Inputs) > 0 {
		if err := json.Unmarshal(d.Inputs, &current); err != nil {
			return nil, fmt.Errorf("stored inputs of %s: %w", d.ID, err)
		}
	}
	for k, v := range req.Inputs {
		if v == nil {
			delete(current, k)
			continue
		}
		current[k] = v
	}
	raw, err := json.Marshal(current)
	if err != nil {
		return nil, invalid("inputs", "inputs must be a JSON object")
	}
	next.Inputs = raw
	return &next, nil
}

// updateDeployment applies a new template and/or inputs on the same target: in
// place (redeploy=false) or replacing every resource (redeploy=true).
func (s *Server) updateDeployment(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	var req updateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Redeploy == nil {
		return invalid("redeploy", "redeploy is required: false updates in place, true replaces every resource")
	}
	next, err := s.updated(c, d, req)
	if err != nil {
		return err
	}
	if err := store.Transition(d.Status, store.UpdateInProgress); err != nil {
		return err // refuse before translating: the status decides first
	}
	res, err := s.translateFor(c.UserContext(), next, req.Strict != nil && *req.Strict)
	if err != nil {
		return err
	}
	kind := store.RunUpdate
	if *req.Redeploy {
		kind = store.RunRedeploy
	}
	run, err := s.store.Deployments.Enqueue(c.UserContext(), d.ID, store.Request{Kind: kind, CreatedBy: principalOf(c).User.ID,
		Change: func(cur *store.Deployment) error {
			cur.Template, cur.TemplateID, cur.Inputs = next.Template, next.TemplateID, next.Inputs
			cur.Terraform, cur.TFVars = string(res.Main), string(res.Vars)
			return nil
		}})
	if err != nil {
		return err
	}
	s.logTranslation(c.UserContext(), d.ID, run.ID, res)
	s.engine.Wake()
	d, err = s.store.Deployments.Get(c.UserContext(), d.ID)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(deploymentJSON(d))
}

// planDeployment previews an update (same body as PUT, redeploy ignored) without
// changing anything.
func (s *Server) planDeployment(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	req := updateRequest{}
	if len(strings.TrimSpace(string(c.Body()))) > 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	if d.DeletedAt != nil || d.Status == store.DeleteInProgress {
		return store.Errorf(store.EConflict, "deployment %s is deleted", d.ID).WithDetails(store.Detail{Field: "status",
			Message: "current status is " + string(d.Status), Extra: map[string]any{"current_status": string(d.Status)}})
	}
	next, err := s.updated(c, d, req)
	if err != nil {
		return err
	}
	if _, err := s.translateFor(c.UserContext(), next, req.Strict != nil && *req.Strict); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Minute)
	defer cancel()
	plan, err := s.engine.Plan(ctx, next, req.Redeploy != nil && *req.Redeploy)
	if err != nil {
		return store.Errorf(store.EInvalid, "plan failed: %s", truncate(err.Error(), 2000))
	}
	return c.JSON(plan)
}

// deleteDeployment soft-deletes (destroys the infrastructure, keeps the record and
// logs); admins may hard-delete with ?hard=true (409 while infrastructure may
// exist, unless force=true).
func (s *Server) deleteDeployment(c *fiber.Ctx) error {
	q, err := parseQuery(c, "hard", "force")
	if err != nil {
		return err
	}
	hard, err := q.boolean("hard")
	if err != nil {
		return err
	}
	force, err := q.boolean("force")
	if err != nil {
		return err
	}
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	p := principalOf(c)
	if hard {
		if !p.Admin {
			return store.Errorf(store.EForbidden, "hard delete is for admins")
		}
		if err := s.store.Deployments.HardDelete(c.UserContext(), d.ID, force); err != nil {
			return err
		}
		if err := s.engine.RemoveWorkdir(d.ID); err != nil {
			s.log.Error("remove workdir", "deployment", d.ID, "error", err.Error())
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
	if force {
		return invalid("force", "force only goes with hard=true")
	}
	if _, err := s.store.Deployments.Enqueue(c.UserContext(), d.ID, store.Request{Kind: store.RunDelete, CreatedBy: p.User.ID}); err != nil {
		return err
	}
	s.engine.Wake()
	d, err = s.store.Deployments.Get(c.UserContext(), d.ID)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(deploymentJSON(d))
}

// resetDeployment fails a stalled deployment (X_IN_PROGRESS -> X_FAILED) when no
// worker holds it.
func (s *Server) resetDeployment(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	d, err = s.reset(c.UserContext(), principalOf(c), d)
	if err != nil {
		return err
	}
	return c.JSON(deploymentJSON(d))
}

// reset fails a stalled deployment (X_IN_PROGRESS -> X_FAILED): 409 while a
// worker holds one of its runs.
func (s *Server) reset(ctx context.Context, p *Principal, d *store.Deployment) (*store.Deployment, error) {
	active, err := s.store.Runs.Active(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range active {
		if s.engine.Holds(r.ID) {
			return nil, store.Errorf(store.EConflict, "run %s is being worked on; cancel it instead", r.ID).WithDetails(store.Detail{
				Field: "status", Message: "current status is " + string(d.Status), Extra: map[string]any{"current_status": string(d.Status)}})
		}
	}
	reason := "reset by " + p.User.Username
	// The store refuses while a worker's lease on a running run lasts past now.
	d, err = s.store.Deployments.Reset(ctx, d.ID, reason, s.now())
	if err != nil {
		return nil, err
	}
	_ = s.store.Logs.Append(ctx, d.ID, &store.LogLine{Level: store.LevelWarn, Source: store.SourceOrchestrator, Message: "deployment " + reason})
	return d, nil
}

func (s *Server) getDeploymentTemplate(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	return sendYAML(c, d.Template)
}

// getTerraform returns the generated root module (main.tf.json). Variable values
// are not included: inputs may hold secrets.
func (s *Server) getTerraform(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.SendString(d.Terraform)
}

func (s *Server) getState(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Minute)
	defer cancel()
	view, err := s.engine.ShowState(ctx, d)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(view)
}

func (s *Server) getOutputs(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	outputs := d.Outputs
	if len(outputs) == 0 {
		outputs = json.RawMessage("{}")
	}
	// A deleted deployment keeps its last outputs as history: its addresses and
	// URLs point at infrastructure that no longer exists.
	out := fiber.Map{"outputs": outputs, "history": d.DeletedAt != nil}
	if d.DeletedAt != nil {
		out["note"] = "the deployment was deleted at " + d.DeletedAt.UTC().Format(time.RFC3339) +
			": these are its last outputs, kept as history; nothing they name exists any more"
	}
	return c.JSON(out)
}

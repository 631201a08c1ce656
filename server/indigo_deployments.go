package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
)

// indigoDeploymentJSON is a deployment as the INDIGO orchestrator shows it
// (its DeploymentResource). Empty optional fields are left out, as INDIGO's
// Jackson does; createdBy, cloudProviderEndpoint, outputs and task are always
// there, because orpy and the INFN dashboard read them without looking first.
type indigoDeploymentJSON struct {
	UUID                  string          `json:"uuid"`
	CreationTime          string          `json:"creationTime"`
	UpdateTime            string          `json:"updateTime"`
	PhysicalID            string          `json:"physicalId,omitempty"`
	Status                store.Status    `json:"status"`
	StatusReason          string          `json:"statusReason,omitempty"`
	Outputs               json.RawMessage `json:"outputs"`
	Task                  string          `json:"task"`
	Callback              string          `json:"callback,omitempty"`
	UserGroup             string          `json:"userGroup,omitempty"`
	CloudProviderName     string          `json:"cloudProviderName"`
	CloudProviderEndpoint indigoEndpoint  `json:"cloudProviderEndpoint"`
	CreatedBy             indigoIdentity  `json:"createdBy"`
	Links                 []indigoLink    `json:"links,omitempty"`
}

// indigoEndpoint says where a deployment runs. INDIGO named a cloud's Keystone
// endpoint and compute service; this service names the target, whose
// configuration and credentials only admins and Terraform see.
type indigoEndpoint struct {
	CPEndpoint         string `json:"cpEndpoint"`
	CPComputeServiceID string `json:"cpComputeServiceId"`
	DeploymentType     string `json:"deploymentType"`
	IaaSType           string `json:"iaasType"`
}

// indigoLookups caches the users and targets a response names several times.
type indigoLookups struct {
	users   map[string]*store.User
	targets map[string]*store.Target
}

func newIndigoLookups() *indigoLookups {
	return &indigoLookups{users: map[string]*store.User{}, targets: map[string]*store.Target{}}
}

func (k *indigoLookups) user(ctx context.Context, st *store.Store, id string) *store.User {
	if u, ok := k.users[id]; ok {
		return u
	}
	u, _ := st.Users.Get(ctx, id)
	k.users[id] = u
	return u
}

func (k *indigoLookups) targetKind(ctx context.Context, st *store.Store, name string) string {
	t, ok := k.targets[name]
	if !ok {
		t, _ = st.Targets.Get(ctx, name)
		k.targets[name] = t
	}
	if t == nil {
		return "UNKNOWN"
	}
	return strings.ToUpper(t.Kind)
}

// indigoDeployment maps a deployment to INDIGO's shape. createdBy is the user
// who submitted it, or its first owner when that user is gone.
func (s *Server) indigoDeployment(ctx context.Context, d *store.Deployment, l *links, k *indigoLookups) indigoDeploymentJSON {
	if k == nil {
		k = newIndigoLookups()
	}
	out := indigoDeploymentJSON{UUID: d.ID, CreationTime: indigoTime(d.CreatedAt), UpdateTime: indigoTime(d.UpdatedAt),
		Status: d.Status, StatusReason: d.StatusReason, Outputs: rawJSONObject(d.Outputs), Task: "NONE",
		Callback: d.Callback, UserGroup: d.UserGroup, CloudProviderName: d.Target}
	if d.Infrastructure {
		// INDIGO named the infrastructure holding the resources (the IM's);
		// here it is the deployment's Terraform state, kept under its id.
		out.PhysicalID = d.ID
	}
	if d.Status.InProgress() {
		out.Task = "DEPLOYER" // INDIGO's task while its deployer works on the infrastructure
	}
	kind := k.targetKind(ctx, s.store, d.Target)
	out.CloudProviderEndpoint = indigoEndpoint{CPEndpoint: d.Target, CPComputeServiceID: d.Target, DeploymentType: kind, IaaSType: kind}
	candidates := append([]string{d.CreatedBy}, d.Owners...)
	out.CreatedBy = indigoIdentity{Subject: d.CreatedBy, Issuer: s.localIssuer()}
	for _, id := range candidates {
		if id == "" {
			continue
		}
		if u := k.user(ctx, s.store, id); u != nil {
			out.CreatedBy = s.identityOf(u)
			break
		}
	}
	base := indigoPrefix + "/deployments/" + d.ID
	out.Links = append(append(l.to("self", base), l.to("resources", base+"/resources")...), l.to("template", base+"/template")...)
	return out
}

// indigoDeploymentRequest is INDIGO's DeploymentRequest. Unknown fields are
// ignored, as INDIGO does (orpy sends "keepLastAttemp").
type indigoDeploymentRequest struct {
	Template   *string        `json:"template"`
	Parameters map[string]any `json:"parameters"`
	Callback   *string        `json:"callback"`
	UserGroup  *string        `json:"userGroup"`
	// Accepted and checked, with no effect here: a deployment runs on one target
	// (INDIGO retried other providers), runs are bounded by serve --run-timeout, and
	// a failed create keeps what it built until it is deleted.
	TimeoutMins         json.RawMessage `json:"timeoutMins"`
	ProviderTimeoutMins json.RawMessage `json:"providerTimeoutMins"`
	MaxProvidersRetry   json.RawMessage `json:"maxProvidersRetry"`
	KeepLastAttempt     json.RawMessage `json:"keepLastAttempt"`
}

// check refuses what INDIGO refused: no template, counts under 1, values of
// the wrong type. Clients send numbers and booleans as JSON or as strings.
func (r *indigoDeploymentRequest) check() error {
	if r.Template == nil {
		return invalid("template", "a TOSCA template must be provided")
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"timeoutMins", r.TimeoutMins}, {"providerTimeoutMins", r.ProviderTimeoutMins}, {"maxProvidersRetry", r.MaxProvidersRetry}} {
		v, ok := jsonScalar(f.raw)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			return invalid(f.name, "%s, if provided, must be a whole number of at least 1", f.name)
		}
	}
	if v, ok := jsonScalar(r.KeepLastAttempt); ok {
		if _, err := strconv.ParseBool(v); err != nil {
			return invalid("keepLastAttempt", "keepLastAttempt, if provided, must be true or false")
		}
	}
	return nil
}

// jsonScalar is a JSON number, boolean or string as text; ok is false for
// absent and null values.
func jsonScalar(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s), true
	}
	return string(raw), true
}

// checkUserGroup refuses a user group the caller is not in, when the caller's
// OIDC token says which groups they are in (as the INFN orchestrator does).
// Other callers' groups are not known here: the group is recorded as given,
// and grants nothing.
func checkUserGroup(p *Principal, group, field string) error {
	if group == "" {
		return nil
	}
	if err := checkText(field, group, 255); err != nil {
		return err
	}
	if p.OIDC == nil {
		return nil
	}
	for _, g := range p.OIDC.Groups {
		if strings.TrimPrefix(g, "/") == strings.TrimPrefix(group, "/") {
			return nil
		}
	}
	return store.Errorf(store.EForbidden, "the group %s is not one of the groups in your token", truncate(group, 100))
}

var indigoDeploymentSort = map[string]string{"createdAt": "created_at", "updatedAt": "updated_at", "status": "status", "uuid": "id"}

// indigoListDeployments lists deployments, newest first, 10 a page. Without
// createdBy, admins see all and users their own; createdBy=me is the caller's
// own, createdBy=subject@issuer someone's (admins only, as at INDIGO).
// excludedStatus (the INFN dashboard's) leaves statuses out; deleted
// deployments appear only when it does not exclude DELETE_COMPLETE.
func (s *Server) indigoListDeployments(c *fiber.Ctx) error {
	q, err := parseQuery(c, "createdBy", "userGroup", "excludedStatus", "page", "size", "sort")
	if err != nil {
		return err
	}
	paging, err := indigoPageQuery(q)
	if err != nil {
		return err
	}
	sortBy, err := indigoSort(q, indigoDeploymentSort)
	if err != nil {
		return err
	}
	ctx, p, l := c.UserContext(), principalOf(c), s.linksFor(c)
	empty := func() error {
		return c.JSON(newIndigoPage[indigoDeploymentJSON](c, l, nil, paging, 0))
	}
	f := store.DeploymentFilter{UserGroup: q.str("userGroup")}
	if err := checkUserGroup(p, f.UserGroup, "userGroup"); err != nil {
		return err
	}
	switch createdBy := q.str("createdBy"); {
	case createdBy == "" && p.Admin:
	case createdBy == "" || createdBy == "me":
		f.VisibleTo = p.User.ID
	default:
		id, ok := parseIdentity(createdBy)
		if !ok {
			return store.Errorf(store.EBadRequest, "createdBy must be me or subject@issuer, not %q", truncate(createdBy, 100)).
				WithDetails(store.Detail{Field: "createdBy", Message: "not subject@issuer"})
		}
		u, err := s.userByIdentity(ctx, id)
		if err != nil && !store.IsNotFound(err) {
			return err
		}
		if !p.Admin {
			if u == nil || u.ID != p.User.ID {
				return store.Errorf(store.EForbidden, "only admins can list the deployments of %s", truncate(createdBy, 100))
			}
			f.VisibleTo = p.User.ID
			break
		}
		if u == nil {
			return empty()
		}
		f.Owner = u.ID
	}
	if excluded := q.all("excludedStatus"); len(excluded) > 0 {
		skip := map[store.Status]bool{}
		for _, st := range excluded {
			if !knownStatus(st) {
				return store.Errorf(store.EBadRequest, "unknown status %q", truncate(st, 40)).
					WithDetails(store.Detail{Field: "excludedStatus", Message: "unknown status"})
			}
			skip[store.Status(st)] = true
		}
		for _, st := range store.Statuses {
			if !skip[st] {
				f.Statuses = append(f.Statuses, st)
			}
		}
		if len(f.Statuses) == 0 {
			return empty()
		}
	}
	list, total, err := s.store.Deployments.List(ctx, f, sortBy, paging.store())
	if err != nil {
		return err
	}
	k := newIndigoLookups()
	content := make([]indigoDeploymentJSON, 0, len(list))
	for _, d := range list {
		content = append(content, s.indigoDeployment(ctx, d, l, k))
	}
	return c.JSON(newIndigoPage(c, l, content, paging, total.Items))
}

// indigoCreateDeployment submits a deployment with the checks of POST
// /api/v1/deployments, on the default target: 201 with it in CREATE_IN_PROGRESS.
func (s *Server) indigoCreateDeployment(c *fiber.Ctx) error {
	var req indigoDeploymentRequest
	if err := decodeJSONIgnoringUnknown(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	ctx, p := c.UserContext(), principalOf(c)
	callback, group := strings.TrimSpace(deref(req.Callback)), strings.TrimSpace(deref(req.UserGroup))
	if callback != "" {
		if err := s.checkCallback(callback); err != nil {
			return err
		}
	}
	if err := checkUserGroup(p, group, "userGroup"); err != nil {
		return err
	}
	target := s.cfg.DefaultTarget
	d, res, err := s.prepareSubmission(ctx, p, submitRequest{Template: req.Template, Inputs: req.Parameters, Target: &target})
	if err != nil {
		return err
	}
	d.Callback, d.UserGroup = callback, group
	created, err := s.create(ctx, p, d, res)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s.indigoDeployment(ctx, created, s.linksFor(c), nil))
}

func (s *Server) indigoGetDeployment(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(s.indigoDeployment(c.UserContext(), d, s.linksFor(c), nil))
}

// indigoUpdateDeployment applies a template and parameters in place, as
// INDIGO's update: the parameters are merged over the current inputs (those
// the new template still declares). The INDIGO orchestrator answers an empty
// 202; this one sends the deployment with it, because orchent decodes every
// successful body as JSON and reports an empty one as an error.
func (s *Server) indigoUpdateDeployment(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	var req indigoDeploymentRequest
	if err := decodeJSONIgnoringUnknown(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	ctx, p := c.UserContext(), principalOf(c)
	callback := strings.TrimSpace(deref(req.Callback))
	if callback != "" {
		if err := s.checkCallback(callback); err != nil {
			return err
		}
	}
	if err := store.Transition(d.Status, store.UpdateInProgress); err != nil {
		return err // the status decides before the template is looked at
	}
	t, err := s.parseDeploymentTemplate(ctx, *req.Template)
	if err != nil {
		return err
	}
	current := map[string]any{}
	if len(d.Inputs) > 0 {
		if err := json.Unmarshal(d.Inputs, &current); err != nil {
			return fmt.Errorf("stored inputs of %s: %w", d.ID, err)
		}
	}
	inputs := map[string]any{}
	for _, in := range t.Inputs {
		if v, ok := current[in.Name]; ok {
			inputs[in.Name] = v
		}
	}
	for k, v := range req.Parameters {
		if v == nil {
			delete(inputs, k)
			continue
		}
		inputs[k] = v
	}
	next := *d
	if next.Template != *req.Template {
		next.Template, next.TemplateID = *req.Template, ""
	}
	if next.Inputs, err = json.Marshal(inputs); err != nil {
		return invalid("parameters", "parameters must be a JSON object")
	}
	res, err := s.translateFor(ctx, &next, false) // INDIGO's clients cannot ask for strict mode: recorded nodes are warned about
	if err != nil {
		return err
	}
	run, err := s.store.Deployments.Enqueue(ctx, d.ID, store.Request{Kind: store.RunUpdate, CreatedBy: p.User.ID,
		Change: func(cur *store.Deployment) error {
			cur.Template, cur.TemplateID, cur.Inputs = next.Template, next.TemplateID, next.Inputs
			cur.Terraform, cur.TFVars = string(res.Main), string(res.Vars)
			if callback != "" {
				cur.Callback = callback
			}
			return nil
		}})
	if err != nil {
		return err
	}
	s.logTranslation(ctx, d.ID, run.ID, res)
	s.engine.Wake()
	if d, err = s.store.Deployments.Get(ctx, d.ID); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(s.indigoDeployment(ctx, d, s.linksFor(c), nil))
}

type indigoStatusRequest struct {
	Status *string `json:"status"`
}

// indigoResetDeployment is INDIGO's PATCH {"status": "DELETE_FAILED"}: a
// deletion that hangs is declared failed, so that it can be deleted again.
// Only from DELETE_IN_PROGRESS, and, as POST /api/v1/deployments/{id}/reset,
// only while no worker holds the deletion.
func (s *Server) indigoResetDeployment(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	var req indigoStatusRequest
	if err := decodeJSONIgnoringUnknown(c, &req); err != nil {
		return err
	}
	if st := deref(req.Status); st != string(store.DeleteFailed) {
		return invalid("status", "a deployment can only be reset to DELETE_FAILED, not %q", truncate(st, 40))
	}
	if d.Status != store.DeleteInProgress {
		return store.Errorf(store.EConflict, "cannot reset a deployment in %s state: only DELETE_IN_PROGRESS becomes DELETE_FAILED", d.Status).
			WithDetails(store.Detail{Field: "status", Message: "current status is " + string(d.Status),
				Extra: map[string]any{"current_status": string(d.Status)}})
	}
	if _, err := s.reset(c.UserContext(), principalOf(c), d); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// indigoDeleteDeployment soft-deletes, as DELETE /api/v1/deployments/{id}: the
// infrastructure is destroyed, the record and its logs stay. force is INDIGO's
// "delete even if some resources cannot be removed": Terraform destroys what the
// state holds either way, and a destroy that fails leaves DELETE_FAILED, to
// delete again. Any body is ignored (the INFN dashboard sends one).
func (s *Server) indigoDeleteDeployment(c *fiber.Ctx) error {
	q, err := parseQuery(c, "force")
	if err != nil {
		return err
	}
	if _, err := q.boolean("force"); err != nil {
		return err
	}
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	if _, err := s.store.Deployments.Enqueue(c.UserContext(), d.ID, store.Request{Kind: store.RunDelete, CreatedBy: principalOf(c).User.ID}); err != nil {
		return err
	}
	s.engine.Wake()
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) indigoGetTemplate(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	return indigoText(c, d.Template)
}

// maxIndigoLogLines bounds the text log: the newest lines are kept.
const maxIndigoLogLines = 20000

// indigoGetLog is the deployment's log as text, one line per entry (INDIGO
// returned the IM's infrastructure log).
func (s *Server) indigoGetLog(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	last, err := s.store.Logs.LastSeq(ctx, d.ID)
	if err != nil {
		return err
	}
	var b strings.Builder
	f := store.LogFilter{AfterSeq: max(0, last-maxIndigoLogLines)}
	if f.AfterSeq > 0 {
		fmt.Fprintf(&b, "(the %d oldest lines are left out; GET /api/v1/deployments/%s/logs has them all)\n", f.AfterSeq, d.ID)
	}
	for {
		lines, _, err := s.store.Logs.List(ctx, d.ID, f, store.Page{Size: store.MaxPageSize})
		if err != nil {
			return err
		}
		for _, l := range lines {
			fmt.Fprintf(&b, "%s %-5s %s: %s\n", l.Time.UTC().Format(time.RFC3339), strings.ToUpper(l.Level), l.Source, l.Message)
			f.AfterSeq = l.Seq
		}
		if len(lines) < store.MaxPageSize {
			break
		}
	}
	return indigoText(c, b.String())
}

// indigoGetExtraInfo is INDIGO's extended infrastructure information, a JSON
// array sent as text: here, what the cloud reports of each resource.
func (s *Server) indigoGetExtraInfo(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	list, err := s.store.Resources.List(c.UserContext(), d.ID)
	if err != nil {
		return err
	}
	type info struct {
		UUID          string              `json:"uuid"`
		ToscaNodeName string              `json:"toscaNodeName"`
		ToscaNodeType string              `json:"toscaNodeType"`
		Instance      int                 `json:"instance"`
		State         store.ResourceState `json:"state"`
		PhysicalID    string              `json:"physicalId,omitempty"`
		Attributes    map[string]any      `json:"attributes"`
	}
	out := make([]info, 0, len(list))
	for _, r := range list {
		out = append(out, info{UUID: r.ID, ToscaNodeName: r.Node, ToscaNodeType: r.ToscaType, Instance: r.Instance, State: r.State,
			PhysicalID: r.CloudID, Attributes: r.Attributes})
	}
	body, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return indigoText(c, string(body))
}

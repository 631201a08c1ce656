package server

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
)

// ResourceJSON is a resource as the API shows it.
type ResourceJSON struct {
	ID         string              `json:"id"`
	Node       string              `json:"node"`
	Instance   int                 `json:"instance"`
	ToscaType  string              `json:"tosca_type"`
	Kind       string              `json:"kind"`
	Address    string              `json:"address"`
	CloudID    string              `json:"cloud_id"`
	State      store.ResourceState `json:"state"`
	Attributes map[string]any      `json:"attributes"`
	UpdatedAt  time.Time           `json:"updated_at"`
}

func resourceJSON(r *store.Resource) ResourceJSON {
	return ResourceJSON{ID: r.ID, Node: r.Node, Instance: r.Instance, ToscaType: r.ToscaType, Kind: r.Kind, Address: r.Address,
		CloudID: r.CloudID, State: r.State, Attributes: r.Attributes, UpdatedAt: r.UpdatedAt}
}

func (s *Server) listResources(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	list, err := s.store.Resources.List(c.UserContext(), d.ID)
	if err != nil {
		return err
	}
	items := make([]ResourceJSON, 0, len(list))
	for _, r := range list {
		items = append(items, resourceJSON(r))
	}
	return c.JSON(singlePage(c, items))
}

func (s *Server) resource(c *fiber.Ctx) (*store.Deployment, *store.Resource, error) {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return nil, nil, err
	}
	r, err := s.store.Resources.Get(c.UserContext(), d.ID, c.Params("rid"))
	if err != nil {
		return nil, nil, err
	}
	return d, r, nil
}

func (s *Server) getResource(c *fiber.Ctx) error {
	_, r, err := s.resource(c)
	if err != nil {
		return err
	}
	return c.JSON(resourceJSON(r))
}

type actionRequest struct {
	Action *string `json:"action"`
	// Inputs, with reconfigure only: values merged over the deployment's
	// (null resets one to its default) before the operations run again.
	Inputs map[string]any `json:"inputs"`
}

// resourceAction starts, stops or reboots a Compute instance (202 with the run).
func (s *Server) resourceAction(c *fiber.Ctx) error {
	d, r, err := s.resource(c)
	if err != nil {
		return err
	}
	var req actionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	action := deref(req.Action)
	if action == store.ActionReconfigure {
		return s.reconfigure(c, d, r, req)
	}
	if !powerAction(action) {
		return invalid("action", "action must be start, stop, reboot or reconfigure")
	}
	if req.Inputs != nil {
		return invalid("inputs", "only reconfigure takes inputs")
	}
	run, err := s.act(c.UserContext(), principalOf(c), d, r, "action", action)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(runJSON(run))
}

// powerAction reports whether action is one act queues.
func powerAction(action string) bool {
	return action == "start" || action == "stop" || action == "reboot"
}

// act queues a day-2 action on a Compute instance; field names the request
// field that carried the action, for the error.
func (s *Server) act(ctx context.Context, p *Principal, d *store.Deployment, r *store.Resource, field, action string) (*store.Run, error) {
	if !powerAction(action) {
		return nil, invalid(field, "%s must be start, stop or reboot", field)
	}
	if err := s.refusePoolPower(ctx, d, r, field); err != nil {
		return nil, err
	}
	if r.Kind != "compute" {
		return nil, invalid(field, "%s is a %s: only compute resources can be started, stopped or rebooted", r.Node, r.Kind)
	}
	if r.State == store.ResDeleted {
		return nil, store.Errorf(store.EConflict, "resource %s is deleted", r.ID)
	}
	run, err := s.store.Deployments.Enqueue(ctx, d.ID, store.Request{Kind: store.RunAction, CreatedBy: p.User.ID,
		Params: store.RunParams{Action: action, ResourceID: r.ID, Node: r.Node, Instance: r.Instance}})
	if err != nil {
		return nil, err
	}
	s.engine.Wake()
	return run, nil
}

// transitional are the resource states a run moves through; a resource left in
// one with no run to finish it is stalled.
var transitional = map[store.ResourceState]bool{store.ResCreating: true, store.ResConfiguring: true, store.ResStarting: true,
	store.ResStopping: true, store.ResDeleting: true, store.ResInitial: true}

// resetResource marks a stalled resource ERROR: only one in a transitional state,
// and only while no run works on its deployment.
func (s *Server) resetResource(c *fiber.Ctx) error {
	d, r, err := s.resource(c)
	if err != nil {
		return err
	}
	if !transitional[r.State] {
		return store.Errorf(store.EConflict, "resource %s is %s, not stalled", r.ID, r.State).WithDetails(store.Detail{
			Field: "state", Message: "current state is " + string(r.State), Extra: map[string]any{"current_state": string(r.State)}})
	}
	active, err := s.store.Runs.Active(c.UserContext(), d.ID)
	if err != nil {
		return err
	}
	if len(active) > 0 {
		return store.Errorf(store.EConflict, "run %s is working on this deployment", active[0].ID).WithDetails(store.Detail{
			Field: "state", Message: "current state is " + string(r.State), Extra: map[string]any{"current_state": string(r.State)}})
	}
	if err := s.store.Resources.SetState(c.UserContext(), store.Lease{}, d.ID, store.ResError, r.ID); err != nil {
		return err
	}
	r, err = s.store.Resources.Get(c.UserContext(), d.ID, r.ID)
	if err != nil {
		return err
	}
	return c.JSON(resourceJSON(r))
}

package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
)

// RunJSON is a run as the API shows it.
type RunJSON struct {
	ID           string          `json:"id"`
	DeploymentID string          `json:"deployment_id"`
	Kind         store.RunKind   `json:"kind"`
	Status       store.RunStatus `json:"status"`
	Params       store.RunParams `json:"params"`
	Worker       string          `json:"worker"`
	Error        string          `json:"error"`
	CreatedBy    string          `json:"created_by"`
	CreatedAt    time.Time       `json:"created_at"`
	StartedAt    *time.Time      `json:"started_at"`
	FinishedAt   *time.Time      `json:"finished_at"`
	HeartbeatAt  *time.Time      `json:"heartbeat_at"`
}

func runJSON(r *store.Run) RunJSON {
	return RunJSON{ID: r.ID, DeploymentID: r.DeploymentID, Kind: r.Kind, Status: r.Status, Params: r.Params, Worker: r.Worker,
		Error: r.Error, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		HeartbeatAt: r.HeartbeatAt}
}

func (s *Server) listRuns(c *fiber.Ctx) error {
	q, err := parseQuery(c, "page", "size")
	if err != nil {
		return err
	}
	page, err := q.page()
	if err != nil {
		return err
	}
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	runs, total, err := s.store.Runs.List(c.UserContext(), d.ID, page)
	if err != nil {
		return err
	}
	items := make([]RunJSON, 0, len(runs))
	for _, r := range runs {
		items = append(items, runJSON(r))
	}
	return c.JSON(newList(c, items, page, total))
}

// run loads a run the caller may see: one of a deployment they may act on.
func (s *Server) run(c *fiber.Ctx) (*store.Run, error) {
	r, err := s.store.Runs.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return nil, err
	}
	if _, err := s.deployment(c, r.DeploymentID); err != nil {
		return nil, store.Errorf(store.ENotFound, "run %q not found", c.Params("id"))
	}
	return r, nil
}

func (s *Server) getRun(c *fiber.Ctx) error {
	r, err := s.run(c)
	if err != nil {
		return err
	}
	return c.JSON(runJSON(r))
}

// cancelRun cancels a queued run at once, or interrupts a running one.
func (s *Server) cancelRun(c *fiber.Ctx) error {
	r, err := s.run(c)
	if err != nil {
		return err
	}
	r, err = s.engine.Cancel(c.UserContext(), r.ID, "cancelled by "+principalOf(c).User.Username)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(runJSON(r))
}

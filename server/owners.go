package server

import (
	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
)

// OwnerJSON is an owner of a deployment.
type OwnerJSON struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
}

func (s *Server) ownersOf(c *fiber.Ctx, d *store.Deployment) error {
	items := make([]OwnerJSON, 0, len(d.Owners))
	for _, id := range d.Owners {
		u, err := s.store.Users.Get(c.UserContext(), id)
		if err != nil {
			return err
		}
		items = append(items, OwnerJSON{ID: u.ID, Username: u.Username, Name: u.Name})
	}
	return c.JSON(singlePage(c, items))
}

func (s *Server) listOwners(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	return s.ownersOf(c, d)
}

type addOwnerRequest struct {
	UserID *string `json:"user_id"`
}

func (s *Server) addOwner(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	var req addOwnerRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if deref(req.UserID) == "" {
		return invalid("user_id", "user_id is required")
	}
	if err := s.store.Deployments.AddOwner(c.UserContext(), d.ID, *req.UserID); err != nil {
		return err
	}
	if d, err = s.store.Deployments.Get(c.UserContext(), d.ID); err != nil {
		return err
	}
	c.Status(fiber.StatusCreated)
	return s.ownersOf(c, d)
}

func (s *Server) removeOwner(c *fiber.Ctx) error {
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	if err := s.store.Deployments.RemoveOwner(c.UserContext(), d.ID, c.Params("user")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

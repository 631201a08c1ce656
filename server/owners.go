package server

import (
	"context"
	"strings"

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

// addOwnerRequest names the new owner by id (user_id) or by username (user,
// which also takes an id).
type addOwnerRequest struct {
	UserID *string `json:"user_id"`
	User   *string `json:"user"`
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
	field, ref := "user", deref(req.User)
	if ref == "" {
		field, ref = "user_id", deref(req.UserID)
	}
	if ref == "" {
		return invalid("user", "user (a username or user id) is required")
	}
	u, err := s.userByRef(c.UserContext(), ref)
	if store.IsNotFound(err) {
		return invalid(field, "no user is named %q", truncate(ref, 100))
	}
	if err != nil {
		return err
	}
	if err := s.store.Deployments.AddOwner(c.UserContext(), d.ID, u.ID); err != nil {
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
	u, err := s.userByRef(c.UserContext(), c.Params("user"))
	if err != nil {
		return err
	}
	if err := s.store.Deployments.RemoveOwner(c.UserContext(), d.ID, u.ID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// userByRef finds a user named by id or by username: wherever the API names a
// user, both work (ids first; usernames cannot take the form of an id).
func (s *Server) userByRef(ctx context.Context, ref string) (*store.User, error) {
	u, err := s.store.Users.Get(ctx, ref)
	if !store.IsNotFound(err) {
		return u, err
	}
	u, err = s.store.Users.ByUsername(ctx, strings.ToLower(ref))
	if store.IsNotFound(err) {
		return nil, store.Errorf(store.ENotFound, "no user with id or username %q", truncate(ref, 100))
	}
	return u, err
}

package server

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
)

// deployment loads a deployment the caller may act on: owners and admins only.
// Everyone else gets the same 404 as for a deployment that does not exist, so
// existence does not leak. Every deployment route goes through here.
func (s *Server) deployment(c *fiber.Ctx, id string) (*store.Deployment, error) {
	return s.authorizeDeployment(c.UserContext(), principalOf(c), id)
}

func (s *Server) authorizeDeployment(ctx context.Context, p *Principal, id string) (*store.Deployment, error) {
	d, err := s.store.Deployments.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Admin {
		return d, nil
	}
	for _, o := range d.Owners {
		if o == p.User.ID {
			return d, nil
		}
	}
	return nil, store.Errorf(store.ENotFound, "deployment %q not found", id)
}

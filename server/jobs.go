package server

import (
	"github.com/gofiber/fiber/v2"
)

// listJobs lists the service's background jobs (log purges), newest first.
func (s *Server) listJobs(c *fiber.Ctx) error {
	q, err := parseQuery(c, "page", "size")
	if err != nil {
		return err
	}
	p, err := q.page()
	if err != nil {
		return err
	}
	list, total, err := s.store.Jobs.List(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(newList(c, list, p, total))
}

// getJob shows one job with its progress.
func (s *Server) getJob(c *fiber.Ctx) error {
	j, err := s.store.Jobs.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(j)
}

package server

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// healthz says the process is up; it checks nothing else.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz says whether the service can do its work: the database answers and
// Terraform runs.
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	checks := fiber.Map{}
	ready := true
	db := fiber.Map{"engine": s.store.Dialect()}
	start := time.Now()
	if err := s.store.Ping(ctx); err != nil {
		checks["database"], ready = "unavailable", false
		s.log.Error("readiness: database", "error", err.Error())
	} else {
		checks["database"] = "ok"
		db["latency_ms"] = float64(time.Since(start).Microseconds()) / 1000
		if v, err := s.store.SchemaVersion(ctx); err == nil {
			db["schema"] = v
		}
	}
	if s.toolchain == nil {
		checks["terraform"], ready = "not configured", false
	} else if err := s.toolchain.Check(ctx); err != nil {
		checks["terraform"], ready = "unavailable", false
		s.log.Error("readiness: terraform", "error", err.Error())
	} else {
		checks["terraform"] = "ok"
	}
	// Software configuration is optional: without Ansible, deployments with
	// playbooks fail at once saying so, but the service is ready.
	if cc, ok := s.toolchain.(interface{ Configuration() string }); ok {
		checks["configuration"] = cc.Configuration()
	}
	body := fiber.Map{"status": "ready", "checks": checks, "database": db}
	if r, ok := s.engine.(replica); ok {
		body["replica"] = fiber.Map{"id": r.Replica(), "leader": r.Leading()}
	}
	if !ready {
		body["status"] = "unavailable"
		return c.Status(fiber.StatusServiceUnavailable).JSON(body)
	}
	return c.JSON(body)
}

// replica is what an engine shared by several replicas tells of this one.
type replica interface {
	Replica() string
	Leading() bool
}

// version reports the service's, Terraform's and the providers' versions.
func (s *Server) version(c *fiber.Ctx) error {
	body := fiber.Map{"service": fiber.Map{"name": "orchestrator", "version": s.cfg.Version}}
	if s.toolchain != nil {
		for k, v := range s.toolchain.Versions() {
			body[k] = v
		}
	}
	return c.JSON(body)
}

package server

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/ssh"

	"orchestrator/store"
)

// reconfigure re-runs the software configuration of a software resource, or of
// every software node on a Compute, without touching the infrastructure (202
// with the run). It is allowed after a create whose configuration failed, so a
// fixed input (given here) can be tried without re-provisioning.
func (s *Server) reconfigure(c *fiber.Ctx, d *store.Deployment, r *store.Resource, req actionRequest) error {
	if r.Kind != "software" && r.Kind != "compute" {
		return invalid("action", "%s is a %s: only software nodes and computes can be reconfigured", r.Node, r.Kind)
	}
	if r.State == store.ResDeleted {
		return store.Errorf(store.EConflict, "resource %s is deleted", r.ID)
	}
	next := d
	if req.Inputs != nil {
		var err error
		if next, err = s.updated(c, d, updateRequest{Inputs: req.Inputs}); err != nil {
			return err
		}
		if _, err := s.translateFor(c.UserContext(), next, false); err != nil { // reconfigure changes inputs only: strictness was the submission's
			return err
		}
	}
	run, err := s.store.Deployments.Enqueue(c.UserContext(), d.ID, store.Request{Kind: store.RunAction, CreatedBy: principalOf(c).User.ID,
		Params: store.RunParams{Action: store.ActionReconfigure, ResourceID: r.ID, Node: r.Node, Instance: r.Instance},
		Change: func(cur *store.Deployment) error {
			cur.Inputs = next.Inputs
			return nil
		}})
	if err != nil {
		return err
	}
	s.engine.Wake()
	return c.Status(fiber.StatusAccepted).JSON(runJSON(run))
}

// refusePoolPower refuses start, stop and reboot of a pool host: the machines
// of a hostpool target belong to their admin, who powers them; the
// orchestrator only configures software on them.
func (s *Server) refusePoolPower(ctx context.Context, d *store.Deployment, r *store.Resource, field string) error {
	t, err := s.store.Targets.Get(ctx, d.Target)
	if err != nil || t.Kind != "hostpool" {
		return nil
	}
	return invalid(field, "%s runs on a pool host of target %s: pool hosts are not started, stopped or rebooted through the orchestrator (their admin powers them); reconfigure re-runs its software", r.Node, t.Name)
}

// checkKindCredentials checks credentials by target kind: a host pool's are SSH
// keys, a cloud's are its provider's variables.
func checkKindCredentials(kind string, creds map[string]string) error {
	if kind == "hostpool" {
		return checkPoolCredentials(kind, creds)
	}
	return checkCredentials(creds)
}

// checkPoolCredentials checks a hostpool target's credentials: ssh_private_key
// (every host's) and ssh_private_key.<host> (one host's), each an unencrypted
// SSH private key. The keys are never echoed back, not even in errors.
func checkPoolCredentials(kind string, creds map[string]string) error {
	if kind != "hostpool" {
		return nil
	}
	for k, v := range creds {
		if k != "ssh_private_key" && !strings.HasPrefix(k, "ssh_private_key.") {
			return invalid("credentials."+k, "a hostpool target's credentials are ssh_private_key and ssh_private_key.<host>")
		}
		if len(v) > 16384 {
			return invalid("credentials."+k, "the private key is larger than 16 KiB")
		}
		if _, err := ssh.ParseRawPrivateKey([]byte(v)); err != nil {
			if _, ok := err.(*ssh.PassphraseMissingError); ok {
				return invalid("credentials."+k, "the private key is protected by a passphrase; register an unencrypted key")
			}
			return invalid("credentials."+k, "not an SSH private key (PEM or OpenSSH format)")
		}
	}
	return nil
}

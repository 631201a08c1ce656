package server

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// TargetJSON is a target as the API shows it. Credentials are write-only: only
// whether some are set is shown, and only to admins, like the configuration.
type TargetJSON struct {
	Name           string          `json:"name"`
	Kind           string          `json:"kind"`
	Description    string          `json:"description"`
	Simulated      bool            `json:"simulated"`
	Config         json.RawMessage `json:"config,omitempty"`
	HasCredentials *bool           `json:"has_credentials,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

func targetJSON(t *store.Target, admin bool) TargetJSON {
	out := TargetJSON{Name: t.Name, Kind: t.Kind, Description: t.Description, Simulated: t.Kind == "local",
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if admin {
		out.Config = t.Config
		has := t.HasCredentials
		out.HasCredentials = &has
	}
	return out
}

var validTargetName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// allowedCredentials are the environment variables a target's credentials may
// set for Terraform (the OpenStack provider's).
var allowedCredentials = map[string]bool{
	"OS_AUTH_URL": true, "OS_USERNAME": true, "OS_USER_ID": true, "OS_PASSWORD": true, "OS_PROJECT_NAME": true,
	"OS_PROJECT_ID": true, "OS_TENANT_NAME": true, "OS_TENANT_ID": true, "OS_USER_DOMAIN_NAME": true,
	"OS_USER_DOMAIN_ID": true, "OS_PROJECT_DOMAIN_NAME": true, "OS_PROJECT_DOMAIN_ID": true, "OS_DOMAIN_NAME": true,
	"OS_REGION_NAME": true, "OS_APPLICATION_CREDENTIAL_ID": true, "OS_APPLICATION_CREDENTIAL_NAME": true,
	"OS_APPLICATION_CREDENTIAL_SECRET": true, "OS_TOKEN": true, "OS_CLOUD": true, "OS_INTERFACE": true,
	"OS_IDENTITY_API_VERSION": true, "OS_INSECURE": true,
}

type targetRequest struct {
	Name        *string           `json:"name"`
	Kind        *string           `json:"kind"`
	Description *string           `json:"description"`
	Config      map[string]any    `json:"config"`
	Credentials map[string]string `json:"credentials"`
}

func checkCredentials(creds map[string]string) error {
	for k, v := range creds {
		if !allowedCredentials[k] {
			return invalid("credentials."+k, "unknown credential %q (allowed: OS_* variables of the OpenStack provider)", truncate(k, 60))
		}
		if strings.ContainsAny(v, "\x00\n") || len(v) > 4096 {
			return invalid("credentials."+k, "credential %s has an invalid value", k)
		}
	}
	return nil
}

func (s *Server) listTargets(c *fiber.Ctx) error {
	list, err := s.store.Targets.List(c.UserContext())
	if err != nil {
		return err
	}
	admin := principalOf(c).Admin
	items := make([]TargetJSON, 0, len(list))
	for _, t := range list {
		items = append(items, targetJSON(t, admin))
	}
	return c.JSON(singlePage(c, items))
}

func (s *Server) getTarget(c *fiber.Ctx) error {
	t, err := s.store.Targets.Get(c.UserContext(), c.Params("name"))
	if err != nil {
		return err
	}
	return c.JSON(targetJSON(t, principalOf(c).Admin))
}

func (s *Server) createTarget(c *fiber.Ctx) error {
	var req targetRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Name == nil || !validTargetName.MatchString(*req.Name) {
		return invalid("name", "name must be 1 to 63 lower-case letters, digits, '_' or '-'")
	}
	if req.Kind == nil || (*req.Kind != "local" && *req.Kind != "openstack" && *req.Kind != "hostpool") {
		return invalid("kind", "kind must be local, openstack or hostpool")
	}
	if err := checkText("description", deref(req.Description), 1000); err != nil {
		return err
	}
	if err := checkKindCredentials(*req.Kind, req.Credentials); err != nil {
		return err
	}
	if err := checkTargetConfig(*req.Kind, orEmpty(req.Config)); err != nil {
		return err
	}
	cfg, err := json.Marshal(orEmpty(req.Config))
	if err != nil {
		return invalid("config", "config must be a JSON object")
	}
	t := &store.Target{Name: *req.Name, Kind: *req.Kind, Description: deref(req.Description), Config: cfg}
	if err := s.store.Targets.Create(c.UserContext(), t, req.Credentials); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(targetJSON(t, true))
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func (s *Server) patchTarget(c *fiber.Ctx) error {
	var req targetRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Name != nil || req.Kind != nil {
		return invalid(map[bool]string{true: "name", false: "kind"}[req.Name != nil], "a target's name and kind cannot change")
	}
	up := store.TargetUpdate{Description: req.Description, Credentials: req.Credentials}
	if req.Description != nil {
		if err := checkText("description", *req.Description, 1000); err != nil {
			return err
		}
	}
	if req.Credentials != nil {
		cur, err := s.store.Targets.Get(c.UserContext(), c.Params("name"))
		if err != nil {
			return err
		}
		if err := checkKindCredentials(cur.Kind, req.Credentials); err != nil {
			return err
		}
	}
	if req.Config != nil {
		cur, err := s.store.Targets.Get(c.UserContext(), c.Params("name"))
		if err != nil {
			return err
		}
		if err := checkTargetConfig(cur.Kind, req.Config); err != nil {
			return err
		}
		cfg, err := json.Marshal(req.Config)
		if err != nil {
			return invalid("config", "config must be a JSON object")
		}
		up.Config = cfg
	}
	t, err := s.store.Targets.Update(c.UserContext(), c.Params("name"), up)
	if err != nil {
		return err
	}
	return c.JSON(targetJSON(t, true))
}

func (s *Server) deleteTarget(c *fiber.Ctx) error {
	if err := s.store.Targets.Delete(c.UserContext(), c.Params("name")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// checkTargetConfig refuses a configuration the target's modules would refuse in
// every deployment, naming each bad key (config.<key>).
func checkTargetConfig(kind string, cfg map[string]any) error {
	problems := tosca2tf.CheckTargetConfig(kind, cfg)
	if len(problems) == 0 {
		return nil
	}
	e := store.Errorf(store.EInvalid, "config: %s: %s", problems[0].Key, problems[0].Message)
	for _, p := range problems {
		e.WithDetails(store.Detail{Field: "config." + p.Key, Message: p.Message})
	}
	return e
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// TemplateJSON is a catalog template as the API shows it.
type TemplateJSON struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Description string            `json:"description"`
	Inputs      json.RawMessage   `json:"inputs"`
	Metadata    json.RawMessage   `json:"metadata"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Links       map[string]string `json:"links"`
}

func templateJSON(t *store.Template) TemplateJSON {
	return TemplateJSON{ID: t.ID, Name: t.Name, Version: t.Version, Description: t.Description, Inputs: t.Inputs,
		Metadata: t.Metadata, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		Links: map[string]string{"self": "/api/v1/templates/" + t.ID, "content": "/api/v1/templates/" + t.ID + "/content"}}
}

// templateErrors turns tosca2tf's errors into a 422 with file, line and column.
func templateErrors(err error, field string) error {
	var errs tosca2tf.Errors
	if !errors.As(err, &errs) {
		return err
	}
	what := "the template is not valid"
	if allInputs(errs) {
		what = "invalid inputs"
	}
	out := store.Errorf(store.EInvalid, "%s: %s", what, firstMessage(errs))
	for _, e := range errs {
		d := store.Detail{Field: field, File: e.Pos.File, Line: e.Pos.Line, Column: e.Pos.Column, Message: e.Message,
			Extra: map[string]any{"kind": string(e.Kind)}}
		if e.Field != "" {
			d.Field = e.Field
		}
		out.WithDetails(d)
	}
	return out
}

func allInputs(errs tosca2tf.Errors) bool {
	for _, e := range errs {
		if !strings.HasPrefix(e.Field, "inputs.") {
			return false
		}
	}
	return len(errs) > 0
}

func firstMessage(errs tosca2tf.Errors) string {
	if len(errs) == 0 {
		return ""
	}
	msg := errs[0].Message
	if errs[0].Pos.Line > 0 && errs[0].Field == "" {
		msg = fmt.Sprintf("line %d: %s", errs[0].Pos.Line, msg)
	}
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(errs)-1)
	}
	return msg
}

// parseTemplate validates TOSCA content as the service would deploy it: imports
// only through the configured type libraries, and translatable for every target
// kind with its default inputs.
func (s *Server) parseTemplate(ctx context.Context, name, content, field string) (*tosca2tf.Template, error) {
	if strings.TrimSpace(content) == "" {
		return nil, invalid(field, "%s is empty", field)
	}
	if len(content) > tosca2tf.MaxTemplateBytes {
		return nil, store.Errorf(store.ETooLarge, "%s is %d bytes, the limit is %d", field, len(content), tosca2tf.MaxTemplateBytes)
	}
	t, err := tosca2tf.Parse(ctx, tosca2tf.Source{Name: name, Content: []byte(content)}, s.resolver)
	if err != nil {
		return nil, templateErrors(err, field)
	}
	return t, nil
}

var validTemplateName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._ -]{0,99}$`)

type addTemplateRequest struct {
	Name        *string `json:"name"`
	Version     *string `json:"version"`
	Content     *string `json:"content"`
	Description *string `json:"description"`
}

func checkNameVersion(name, version *string) error {
	if name != nil && !validTemplateName.MatchString(*name) {
		return invalid("name", "name must be 1 to 100 letters, digits, spaces, '.', '_' or '-'")
	}
	if version != nil && !validTemplateName.MatchString(*version) {
		return invalid("version", "version must be 1 to 100 letters, digits, '.', '_' or '-'")
	}
	return nil
}

// describeTemplate extracts what the catalog shows of a template.
func describeTemplate(t *tosca2tf.Template) (inputs, metadata json.RawMessage, err error) {
	if inputs, err = json.Marshal(tosca2tf.DescribeInputs(t)); err != nil {
		return nil, nil, err
	}
	meta := t.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	metadata, err = json.Marshal(meta)
	return inputs, metadata, err
}

// addTemplate adds a template to the catalog (admins).
func (s *Server) addTemplate(c *fiber.Ctx) error {
	var req addTemplateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Name == nil || req.Version == nil || req.Content == nil {
		field := map[bool]string{true: "name"}[req.Name == nil]
		if field == "" {
			field = map[bool]string{true: "version", false: "content"}[req.Version == nil]
		}
		return invalid(field, "%s is required", field)
	}
	if err := checkNameVersion(req.Name, req.Version); err != nil {
		return err
	}
	t, err := s.parseTemplate(c.UserContext(), *req.Name+".yaml", *req.Content, "content")
	if err != nil {
		return err
	}
	desc := deref(req.Description)
	if desc == "" {
		desc = strings.TrimSpace(t.Description)
	}
	if err := checkText("description", desc, 5000); err != nil {
		return err
	}
	inputs, meta, err := describeTemplate(t)
	if err != nil {
		return err
	}
	tmpl := &store.Template{Name: *req.Name, Version: *req.Version, Description: desc, Content: *req.Content,
		Inputs: inputs, Metadata: meta, CreatedBy: principalOf(c).User.ID}
	if err := s.store.Templates.Create(c.UserContext(), tmpl); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(checkedTemplateJSON{TemplateJSON: templateJSON(tmpl), Warnings: templateWarnings(t)})
}

func (s *Server) listTemplates(c *fiber.Ctx) error {
	q, err := parseQuery(c, "page", "size", "name", "q")
	if err != nil {
		return err
	}
	p, err := q.page()
	if err != nil {
		return err
	}
	list, total, err := s.store.Templates.List(c.UserContext(), store.TemplateFilter{Name: q.str("name"), Q: q.str("q")}, p)
	if err != nil {
		return err
	}
	items := make([]TemplateJSON, 0, len(list))
	for _, t := range list {
		items = append(items, templateJSON(t))
	}
	return c.JSON(newList(c, items, p, total))
}

func (s *Server) getTemplate(c *fiber.Ctx) error {
	t, err := s.store.Templates.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(templateJSON(t))
}

func (s *Server) getTemplateContent(c *fiber.Ctx) error {
	t, err := s.store.Templates.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return sendYAML(c, t.Content)
}

func sendYAML(c *fiber.Ctx, content string) error {
	c.Set(fiber.HeaderContentType, "application/yaml; charset=utf-8")
	c.Set("X-Content-Type-Options", "nosniff")
	return c.SendString(content)
}

// patchTemplate changes a template's metadata or content (validated again).
func (s *Server) patchTemplate(c *fiber.Ctx) error {
	var req addTemplateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := checkNameVersion(req.Name, req.Version); err != nil {
		return err
	}
	up := store.TemplateUpdate{Name: req.Name, Version: req.Version, Description: req.Description}
	if req.Description != nil {
		if err := checkText("description", *req.Description, 5000); err != nil {
			return err
		}
	}
	warnings := []WarningJSON{}
	if req.Content != nil {
		t, err := s.parseTemplate(c.UserContext(), "template.yaml", *req.Content, "content")
		if err != nil {
			return err
		}
		inputs, meta, err := describeTemplate(t)
		if err != nil {
			return err
		}
		up.Content, up.Inputs, up.Metadata = req.Content, inputs, meta
		warnings = templateWarnings(t)
	}
	t, err := s.store.Templates.Update(c.UserContext(), c.Params("id"), up)
	if err != nil {
		return err
	}
	return c.JSON(checkedTemplateJSON{TemplateJSON: templateJSON(t), Warnings: warnings})
}

// deleteTemplate removes a template; deployments made from it keep their copy.
func (s *Server) deleteTemplate(c *fiber.Ctx) error {
	if err := s.store.Templates.Delete(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

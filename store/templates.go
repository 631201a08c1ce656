package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Template is a TOSCA template in the catalog. Deployments copy the content they
// were created from, so editing or removing a template never breaks them.
type Template struct {
	ID          string
	Name        string
	Version     string
	Description string
	Content     string
	// Inputs and Metadata are JSON as tosca2tf describes them, kept so that listing
	// the catalog does not parse every template again.
	Inputs    json.RawMessage
	Metadata  json.RawMessage
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Templates is the catalog. Everyone reads it; only admins change it.
type Templates struct{ s *Store }

const templateColumns = "id, name, version, description, content, inputs, metadata, COALESCE(created_by, ''), created_at, updated_at"

func scanTemplate(row interface{ Scan(...any) error }) (*Template, error) {
	var t Template
	var inputs, meta, created, updated string
	if err := row.Scan(&t.ID, &t.Name, &t.Version, &t.Description, &t.Content, &inputs, &meta, &t.CreatedBy, &created, &updated); err != nil {
		return nil, err
	}
	t.Inputs, t.Metadata = json.RawMessage(inputs), json.RawMessage(meta)
	t.CreatedAt, t.UpdatedAt = parseTime(created), parseTime(updated)
	return &t, nil
}

func jsonOr(raw json.RawMessage, empty string) string {
	if len(raw) == 0 {
		return empty
	}
	return string(raw)
}

// Create adds a template; the same name and version twice is a conflict.
func (r *Templates) Create(ctx context.Context, t *Template) error {
	t.ID = NewID()
	now := r.s.Now()
	t.CreatedAt, t.UpdatedAt = now, now
	_, err := r.s.db.ExecContext(ctx, `INSERT INTO templates (id, name, version, description, content, inputs, metadata, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.ID, t.Name, t.Version, t.Description, t.Content,
		jsonOr(t.Inputs, "[]"), jsonOr(t.Metadata, "{}"), nullIfEmpty(t.CreatedBy), fmtTime(now), fmtTime(now))
	if isUniqueViolation(err) {
		return Errorf(EConflict, "template %s version %s already exists", t.Name, t.Version).
			WithDetails(Detail{Field: "version", Message: "duplicate name and version"})
	}
	if err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	return nil
}

// Get returns one template.
func (r *Templates) Get(ctx context.Context, id string) (*Template, error) {
	t, err := scanTemplate(r.s.db.QueryRowContext(ctx, "SELECT "+templateColumns+" FROM templates WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "template", id)
	}
	return t, nil
}

// TemplateFilter narrows a catalog listing.
type TemplateFilter struct {
	Name string // exact name
	Q    string // text in name or description
}

// List returns a page of the catalog ordered by name, then version.
func (r *Templates) List(ctx context.Context, f TemplateFilter, p Page) ([]*Template, Total, error) {
	where, args := "WHERE 1=1", []any{}
	if f.Name != "" {
		where += " AND name = ?"
		args = append(args, f.Name)
	}
	if f.Q != "" {
		where += " AND (instr(lower(name), lower(?)) > 0 OR instr(lower(description), lower(?)) > 0)"
		args = append(args, f.Q, f.Q)
	}
	var n int
	if err := r.s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM templates "+where, args...).Scan(&n); err != nil {
		return nil, Total{}, fmt.Errorf("count templates: %w", err)
	}
	rows, err := r.s.db.QueryContext(ctx, "SELECT "+templateColumns+" FROM templates "+where+" ORDER BY name, version, id LIMIT ? OFFSET ?",
		append(args, p.limit(), p.offset())...)
	if err != nil {
		return nil, Total{}, fmt.Errorf("list templates: %w", err)
	}
	defer rows.Close()
	list := []*Template{}
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, Total{}, fmt.Errorf("list templates: %w", err)
		}
		list = append(list, t)
	}
	return list, totalOf(n, p), rows.Err()
}

// TemplateUpdate holds the fields an admin may change; nil means unchanged. New
// content comes with its new inputs and metadata, already validated by the caller.
type TemplateUpdate struct {
	Name        *string
	Version     *string
	Description *string
	Content     *string
	Inputs      json.RawMessage
	Metadata    json.RawMessage
}

// Update changes a template in place.
func (r *Templates) Update(ctx context.Context, id string, up TemplateUpdate) (*Template, error) {
	err := r.s.tx(ctx, func(tx *txn) error {
		t, err := scanTemplate(tx.QueryRowContext(ctx, "SELECT "+templateColumns+" FROM templates WHERE id = ?", id))
		if err != nil {
			return notFound(err, "template", id)
		}
		if up.Name != nil {
			t.Name = *up.Name
		}
		if up.Version != nil {
			t.Version = *up.Version
		}
		if up.Description != nil {
			t.Description = *up.Description
		}
		if up.Content != nil {
			t.Content = *up.Content
			t.Inputs, t.Metadata = up.Inputs, up.Metadata
		}
		_, err = tx.ExecContext(ctx, `UPDATE templates SET name = ?, version = ?, description = ?, content = ?, inputs = ?, metadata = ?, updated_at = ?
			WHERE id = ?`, t.Name, t.Version, t.Description, t.Content, jsonOr(t.Inputs, "[]"), jsonOr(t.Metadata, "{}"), fmtTime(r.s.Now()), id)
		if isUniqueViolation(err) {
			return Errorf(EConflict, "template %s version %s already exists", t.Name, t.Version)
		}
		return err
	})
	if err != nil {
		return nil, wrapUnlessStoreError(err, "update template %s", id)
	}
	return r.Get(ctx, id)
}

// Delete removes a template from the catalog; deployments keep their own copy.
func (r *Templates) Delete(ctx context.Context, id string) error {
	res, err := r.s.db.ExecContext(ctx, "DELETE FROM templates WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("delete template %s: %w", id, err)
	}
	return mustAffect(res, "template", id)
}

// Count returns the size of the catalog.
func (r *Templates) Count(ctx context.Context) (int, error) {
	var n int
	err := r.s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM templates").Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count templates: %w", err)
	}
	return n, nil
}

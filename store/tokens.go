package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Token is an API token a user created for automation. Only its hash is stored:
// the token itself is shown once, when created.
type Token struct {
	ID         string
	UserID     string
	Name       string
	Hash       string
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	CreatedAt  time.Time
}

// Tokens stores API tokens. A user manages their own tokens only.
type Tokens struct{ s *Store }

// Create stores a token hash.
func (r *Tokens) Create(ctx context.Context, t *Token) error {
	t.ID = NewID()
	t.CreatedAt = r.s.Now()
	_, err := r.s.db.ExecContext(ctx, `INSERT INTO api_tokens (id, user_id, name, token_hash, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, t.ID, t.UserID, t.Name, t.Hash, fmtTimePtr(t.ExpiresAt), fmtTime(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

func scanToken(row interface{ Scan(...any) error }) (*Token, error) {
	var t Token
	var expires, used sql.NullString
	var created string
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &expires, &used, &created); err != nil {
		return nil, err
	}
	t.ExpiresAt, t.LastUsedAt, t.CreatedAt = parseTimePtr(expires), parseTimePtr(used), parseTime(created)
	return &t, nil
}

const tokenColumns = "id, user_id, name, token_hash, expires_at, last_used_at, created_at"

// ByHash finds a token by its hash and records that it was used (to the
// minute). An expired token is unauthorized, like an unknown one.
func (r *Tokens) ByHash(ctx context.Context, hash string) (*Token, error) {
	t, err := scanToken(r.s.db.QueryRowContext(ctx, "SELECT "+tokenColumns+" FROM api_tokens WHERE token_hash = ?", hash))
	if err == sql.ErrNoRows {
		return nil, Errorf(EUnauthorized, "unknown or revoked token")
	}
	if err != nil {
		return nil, fmt.Errorf("find token: %w", err)
	}
	now := r.s.Now()
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return nil, Errorf(EUnauthorized, "token expired at %s", t.ExpiresAt.Format(time.RFC3339))
	}
	// Recorded to the minute: a script calling many times a second must not
	// turn every request into a write.
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= time.Minute || now.Before(*t.LastUsedAt) {
		if _, err := r.s.db.ExecContext(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", fmtTime(now), t.ID); err != nil {
			return nil, fmt.Errorf("touch token: %w", err)
		}
		t.LastUsedAt = &now
	}
	return t, nil
}

// List returns a user's tokens (hashes included; the server never shows them).
func (r *Tokens) List(ctx context.Context, userID string) ([]*Token, error) {
	rows, err := r.s.db.QueryContext(ctx, "SELECT "+tokenColumns+" FROM api_tokens WHERE user_id = ? ORDER BY created_at, id", userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	tokens := []*Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		tokens = append(tokens, t)
	}
	return tokens, rows.Err()
}

// Delete revokes one of the user's tokens.
func (r *Tokens) Delete(ctx context.Context, userID, id string) error {
	res, err := r.s.db.ExecContext(ctx, "DELETE FROM api_tokens WHERE id = ? AND user_id = ?", id, userID)
	if err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	return mustAffect(res, "token", id)
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// User is a person or robot that calls the API. A user logs in with a local
// password, with OIDC tokens from a configured issuer, or with API tokens.
type User struct {
	ID           string
	Username     string
	PasswordHash string // empty for OIDC-only accounts
	OIDCIssuer   string
	OIDCSubject  string
	Name         string
	Email        string
	PictureURL   string
	PictureType  string // set when a picture was uploaded; the bytes are read with Users.Picture
	IsAdmin      bool   // granted by an admin or at bootstrap
	// GroupAdmin is what the OIDC admin group said at the user's last OIDC
	// authentication: recorded so that every view of the user agrees.
	GroupAdmin bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	SSHKeys    []SSHKey
}

// Admin reports whether the user is an admin, by grant or by OIDC group.
func (u *User) Admin() bool { return u.IsAdmin || u.GroupAdmin }

// Users stores user accounts. Only admins list, read or delete other users;
// everyone else reads and edits themselves only (the server enforces it).
type Users struct{ s *Store }

const userColumns = `id, username, COALESCE(password_hash, ''), COALESCE(oidc_issuer, ''), COALESCE(oidc_subject, ''),
	name, email, picture_url, picture_type, is_admin, group_admin, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	var created, updated string
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.OIDCIssuer, &u.OIDCSubject,
		&u.Name, &u.Email, &u.PictureURL, &u.PictureType, &u.IsAdmin, &u.GroupAdmin, &created, &updated); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = parseTime(created), parseTime(updated)
	return &u, nil
}

// Create stores a new user. A taken username or OIDC identity is a conflict.
func (r *Users) Create(ctx context.Context, u *User) error {
	if u.ID == "" {
		u.ID = NewID()
	}
	now := r.s.Now()
	u.CreatedAt, u.UpdatedAt = now, now
	_, err := r.s.db.ExecContext(ctx, `INSERT INTO users (id, username, password_hash, oidc_issuer, oidc_subject,
		name, email, picture_url, is_admin, group_admin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, nullIfEmpty(u.PasswordHash), nullIfEmpty(u.OIDCIssuer), nullIfEmpty(u.OIDCSubject),
		u.Name, u.Email, u.PictureURL, u.IsAdmin, u.GroupAdmin, fmtTime(now), fmtTime(now))
	if isUniqueViolation(err) {
		if isUniqueViolation(err, "username") {
			return Errorf(EConflict, "username %q is taken", u.Username).WithDetails(Detail{Field: "username", Message: "taken"})
		}
		return Errorf(EConflict, "this identity is already registered")
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// Get returns a user with their ssh keys.
func (r *Users) Get(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(r.s.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "user", id)
	}
	return r.withKeys(ctx, u)
}

// Identity returns a user without their ssh keys: what authentication reads on
// every request.
func (r *Users) Identity(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(r.s.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "user", id)
	}
	return u, nil
}

// ByUsername returns the local account with that username.
func (r *Users) ByUsername(ctx context.Context, username string) (*User, error) {
	u, err := scanUser(r.s.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE username = ?", username))
	if err != nil {
		return nil, notFound(err, "user", username)
	}
	return r.withKeys(ctx, u)
}

// ByOIDC returns the user registered with an OIDC identity.
func (r *Users) ByOIDC(ctx context.Context, issuer, subject string) (*User, error) {
	u, err := scanUser(r.s.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE oidc_issuer = ? AND oidc_subject = ?", issuer, subject))
	if err != nil {
		return nil, notFound(err, "user", subject)
	}
	return r.withKeys(ctx, u)
}

func (r *Users) withKeys(ctx context.Context, u *User) (*User, error) {
	keys, err := r.s.SSHKeys.List(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	u.SSHKeys = keys
	return u, nil
}

// Count returns how many users exist (zero means a fresh installation).
func (r *Users) Count(ctx context.Context) (int, error) {
	var n int
	if err := r.s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// CountAdmins returns how many users are admins.
func (r *Users) CountAdmins(ctx context.Context) (int, error) {
	var n int
	if err := r.s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE is_admin = 1 OR group_admin = 1").Scan(&n); err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}

// List returns a page of users, oldest first.
func (r *Users) List(ctx context.Context, p Page) ([]*User, Total, error) {
	var n int
	if err := r.s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		return nil, Total{}, fmt.Errorf("count users: %w", err)
	}
	rows, err := r.s.db.QueryContext(ctx, "SELECT "+userColumns+" FROM users ORDER BY created_at, id LIMIT ? OFFSET ?", p.limit(), p.offset())
	if err != nil {
		return nil, Total{}, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var users []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, Total{}, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, Total{}, fmt.Errorf("list users: %w", err)
	}
	for _, u := range users {
		if _, err := r.withKeys(ctx, u); err != nil {
			return nil, Total{}, err
		}
	}
	return users, totalOf(n, p), nil
}

// UserUpdate holds the profile fields a user may change; nil means unchanged.
type UserUpdate struct {
	Name       *string
	Email      *string
	PictureURL *string
	// PasswordHash replaces a local account's password hash.
	PasswordHash *string
	// SSHKeys replaces the user's whole key set: keys already registered (same
	// fingerprint) keep their id and name, the others are added or removed.
	SSHKeys *[]SSHKey
	// Picture replaces the uploaded picture (and clears PictureURL) when not nil.
	Picture     []byte
	PictureType string
}

// Update changes a user's profile.
func (r *Users) Update(ctx context.Context, id string, up UserUpdate) (*User, error) {
	err := r.s.tx(ctx, func(tx *txn) error {
		u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
		if err != nil {
			return notFound(err, "user", id)
		}
		if up.Name != nil {
			u.Name = *up.Name
		}
		if up.Email != nil {
			u.Email = *up.Email
		}
		if up.PictureURL != nil {
			u.PictureURL = *up.PictureURL
			// A URL replaces an uploaded picture.
			if _, err := tx.ExecContext(ctx, "UPDATE users SET picture = NULL, picture_type = '' WHERE id = ?", id); err != nil {
				return err
			}
		}
		if up.Picture != nil {
			u.PictureURL = ""
			if _, err := tx.ExecContext(ctx, "UPDATE users SET picture = ?, picture_type = ? WHERE id = ?", up.Picture, up.PictureType, id); err != nil {
				return err
			}
		}
		if up.PasswordHash != nil {
			if _, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", *up.PasswordHash, id); err != nil {
				return err
			}
		}
		if up.SSHKeys != nil {
			if err := replaceSSHKeys(ctx, tx, r.s, id, *up.SSHKeys); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, "UPDATE users SET name = ?, email = ?, picture_url = ?, updated_at = ? WHERE id = ?",
			u.Name, u.Email, u.PictureURL, fmtTime(r.s.Now()), id)
		return err
	})
	if err != nil {
		return nil, wrapUnlessStoreError(err, "update user %s", id)
	}
	return r.Get(ctx, id)
}

// Picture returns an uploaded picture and its media type.
func (r *Users) Picture(ctx context.Context, id string) ([]byte, string, error) {
	var data []byte
	var typ string
	err := r.s.db.QueryRowContext(ctx, "SELECT picture, picture_type FROM users WHERE id = ?", id).Scan(&data, &typ)
	if err != nil {
		return nil, "", notFound(err, "user", id)
	}
	if len(data) == 0 {
		return nil, "", Errorf(ENotFound, "user %q has no uploaded picture", id)
	}
	return data, typ, nil
}

// SetPassword replaces a local account's password hash.
func (r *Users) SetPassword(ctx context.Context, id, hash string) error {
	res, err := r.s.db.ExecContext(ctx, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", hash, fmtTime(r.s.Now()), id)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", id, err)
	}
	return mustAffect(res, "user", id)
}

// SetAdmin grants or revokes the admin flag.
func (r *Users) SetAdmin(ctx context.Context, id string, admin bool) error {
	res, err := r.s.db.ExecContext(ctx, "UPDATE users SET is_admin = ?, updated_at = ? WHERE id = ?", admin, fmtTime(r.s.Now()), id)
	if err != nil {
		return fmt.Errorf("set admin of %s: %w", id, err)
	}
	return mustAffect(res, "user", id)
}

// SetGroupAdmin records what the OIDC admin group says of the user now.
func (r *Users) SetGroupAdmin(ctx context.Context, id string, admin bool) error {
	res, err := r.s.db.ExecContext(ctx, "UPDATE users SET group_admin = ?, updated_at = ? WHERE id = ?", admin, fmtTime(r.s.Now()), id)
	if err != nil {
		return fmt.Errorf("set group admin of %s: %w", id, err)
	}
	return mustAffect(res, "user", id)
}

// Delete removes a user with their keys, tokens and ownerships. While the user is
// the only owner of a deployment that is not deleted, it is a conflict unless force
// is set. Forced, every deployment the user owned alone (deleted ones included:
// no deployment is ever left without an owner) passes to heir, the admin who
// deletes; Delete returns those deployments' ids.
func (r *Users) Delete(ctx context.Context, id string, force bool, heir string) ([]string, error) {
	var inherited []string
	err := r.s.tx(ctx, func(tx *txn) error {
		tx.notify(topicCounts, "deployments") // list totals: read your own writes
		inherited = nil
		var exists int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE id = ?", id).Scan(&exists); err != nil {
			return fmt.Errorf("delete user %s: %w", id, err)
		}
		if exists == 0 {
			return Errorf(ENotFound, "user %q not found", id)
		}
		sole, err := soleOwnerships(ctx, tx, id)
		if err != nil {
			return err
		}
		if !force {
			var live []string
			for _, d := range sole {
				if !d.deleted {
					live = append(live, d.id)
				}
			}
			if len(live) > 0 {
				e := Errorf(EConflict, "user is the only owner of %d live deployment(s); add another owner or pass force=true "+
					"(the deployments then pass to you)", len(live))
				for _, d := range live {
					e.WithDetails(Detail{Field: "deployments", Message: d})
				}
				return e
			}
		}
		if len(sole) > 0 && (heir == "" || heir == id) {
			return Errorf(EConflict, "user is the only owner of %d deployment(s) and nobody else can inherit them", len(sole))
		}
		for _, d := range sole {
			if err := insertOwner(ctx, tx, d.id, heir, r.s.Now()); err != nil {
				return fmt.Errorf("hand deployment %s over: %w", d.id, err)
			}
			inherited = append(inherited, d.id)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id); err != nil {
			return fmt.Errorf("delete user %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inherited, nil
}

type ownership struct {
	id      string
	deleted bool
}

// soleOwnerships lists the deployments that user owns alone.
func soleOwnerships(ctx context.Context, tx *txn, user string) ([]ownership, error) {
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.deleted_at IS NOT NULL FROM deployments d
		JOIN deployment_owners o ON o.deployment_id = d.id
		WHERE o.user_id = ? AND (SELECT COUNT(*) FROM deployment_owners o2 WHERE o2.deployment_id = d.id) = 1 ORDER BY d.id`, user)
	if err != nil {
		return nil, fmt.Errorf("list deployments of user %s: %w", user, err)
	}
	defer rows.Close()
	var out []ownership
	for rows.Next() {
		var o ownership
		if err := rows.Scan(&o.id, &o.deleted); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func mustAffect(res sql.Result, what, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update %s %s: %w", what, id, err)
	}
	if n == 0 {
		return Errorf(ENotFound, "%s %q not found", what, id)
	}
	return nil
}

// wrapUnlessStoreError adds context to unexpected errors and passes *Error through
// untouched, so its code and message reach the client.
func wrapUnlessStoreError(err error, format string, args ...any) error {
	if _, ok := err.(*Error); ok {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

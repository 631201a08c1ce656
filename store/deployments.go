package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Deployment is one submitted template: its own copy of the TOSCA, its inputs,
// target, the Terraform generated for it, its status and owners.
type Deployment struct {
	ID           string
	Description  string
	Labels       map[string]string
	Status       Status
	StatusReason string
	Progress     Progress
	TemplateID   string // empty for inline templates
	Template     string
	Target       string
	Inputs       json.RawMessage
	Outputs      json.RawMessage
	Terraform    string // generated main.tf.json
	TFVars       string // generated terraform.tfvars.json
	// PowerStates is what each Compute instance should be: node -> instance -> started|stopped.
	PowerStates map[string]map[string]string
	// Infrastructure is true while cloud resources may exist; a hard delete is refused then.
	Infrastructure bool
	Owners         []string
	// Callback is a URL POSTed the deployment each time it reaches a final
	// status (INDIGO compatibility); empty for none.
	Callback string
	// UserGroup is the group the deployment was submitted for (INDIGO's
	// userGroup): recorded and filtered on, it grants nothing.
	UserGroup string
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt *time.Time
}

// Progress counts resources done out of planned in the current run.
type Progress struct {
	Done    int `json:"done"`
	Planned int `json:"planned"`
}

// Deployments stores deployments. Users act on deployments they own; admins on all.
// The server checks ownership before calling in; the store only keeps the rules of
// status moves and run ordering.
type Deployments struct{ s *Store }

// deploymentColumns are the light columns; the heavy ones (template, terraform,
// tfvars) live in deployment_texts and are read only by Get.
func deploymentColumns(d *dialect) string {
	return `d.id, d.description, d.labels, d.status, d.status_reason, d.progress_done, d.progress_planned,
	COALESCE(d.template_id, ''), d.target, d.inputs, d.outputs, d.power_states, d.infrastructure, COALESCE(d.created_by, ''),
	d.created_at, d.updated_at, d.deleted_at, d.callback, d.user_group,
	COALESCE((SELECT ` + d.groupConcat("o.user_id") + ` FROM deployment_owners o WHERE o.deployment_id = d.id), '')`
}

func scanDeployment(row interface{ Scan(...any) error }, extra ...any) (*Deployment, error) {
	var d Deployment
	var labels, inputs, outputs, power, created, updated, owners string
	var deleted sql.NullString
	dest := []any{&d.ID, &d.Description, &labels, &d.Status, &d.StatusReason, &d.Progress.Done, &d.Progress.Planned,
		&d.TemplateID, &d.Target, &inputs, &outputs, &power, &d.Infrastructure, &d.CreatedBy, &created, &updated, &deleted, &d.Callback, &d.UserGroup, &owners}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	d.Labels = map[string]string{}
	d.PowerStates = map[string]map[string]string{}
	if err := json.Unmarshal([]byte(labels), &d.Labels); err != nil {
		return nil, fmt.Errorf("labels of %s: %w", d.ID, err)
	}
	if err := json.Unmarshal([]byte(power), &d.PowerStates); err != nil {
		return nil, fmt.Errorf("power states of %s: %w", d.ID, err)
	}
	d.Inputs, d.Outputs = json.RawMessage(inputs), json.RawMessage(outputs)
	d.CreatedAt, d.UpdatedAt, d.DeletedAt = parseTime(created), parseTime(updated), parseTimePtr(deleted)
	d.Owners = []string{}
	if owners != "" {
		d.Owners = strings.Split(owners, ",")
		sort.Strings(d.Owners)
	}
	return &d, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err)) // only maps of strings reach here
	}
	return string(b)
}

// Create stores a new deployment in CREATE_IN_PROGRESS with its owners and queues
// its create run, all in one transaction: there is never a deployment without
// the run that will build it.
func (r *Deployments) Create(ctx context.Context, d *Deployment, createdBy string) (*Run, error) {
	if d.ID == "" {
		d.ID = NewID()
	}
	if len(d.Owners) == 0 {
		return nil, Errorf(EInvalid, "a deployment needs an owner")
	}
	now := r.s.Now()
	d.Status, d.StatusReason, d.Progress = CreateInProgress, "", Progress{}
	d.CreatedAt, d.UpdatedAt, d.CreatedBy = now, now, createdBy
	d.Infrastructure = true // from the first apply on, resources may exist
	if d.Labels == nil {
		d.Labels = map[string]string{}
	}
	if d.PowerStates == nil {
		d.PowerStates = map[string]map[string]string{}
	}
	var run *Run
	err := r.s.tx(ctx, func(tx *txn) error {
		tx.notify(topicCounts, "deployments") // list totals: read your own writes
		_, err := tx.ExecContext(ctx, `INSERT INTO deployments (id, description, labels, status, template_id, target,
			inputs, outputs, power_states, infrastructure, created_by, created_at, updated_at, callback, user_group)
			VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?, 1, ?, ?, ?, ?, ?)`,
			d.ID, d.Description, mustJSON(d.Labels), d.Status, nullIfEmpty(d.TemplateID), d.Target,
			jsonOr(d.Inputs, "{}"), mustJSON(d.PowerStates), nullIfEmpty(createdBy), fmtTime(now), fmtTime(now),
			d.Callback, d.UserGroup)
		if err != nil {
			if isForeignKeyViolation(err) {
				return Errorf(EInvalid, "template %q does not exist", d.TemplateID).WithDetails(Detail{Field: "template_id", Message: "unknown template"})
			}
			return fmt.Errorf("insert deployment: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO deployment_texts (deployment_id, template, terraform, tfvars) VALUES (?, ?, ?, ?)",
			d.ID, d.Template, d.Terraform, d.TFVars); err != nil {
			return fmt.Errorf("insert deployment texts: %w", err)
		}
		for _, owner := range d.Owners {
			if err := insertOwner(ctx, tx, d.ID, owner, now); err != nil {
				return err
			}
		}
		run, err = insertRun(ctx, tx, r.s, d.ID, RunCreate, RunParams{}, createdBy)
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(d.Owners)
	return run, nil
}

// Get returns a deployment with its template, generated Terraform and owners.
func (r *Deployments) Get(ctx context.Context, id string) (*Deployment, error) {
	return getDeployment(ctx, r.s.db, id)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// getDeployment reads a deployment. Inside a transaction it also locks the
// deployment's row until the transaction ends (PostgreSQL; SQLite's
// transactions hold the write lock already), so that what it read stays true
// while the transaction acts on it. Transactions that lock a run of the
// deployment take the run first, then the deployment.
func getDeployment(ctx context.Context, q queryer, id string) (*Deployment, error) {
	var d *Deployment
	var template, terraform, tfvars string
	var di *dialect
	lock := ""
	switch q := q.(type) {
	case *db:
		di = q.d
	case *txn:
		di, lock = q.d, q.d.forUpdate()
		if lock != "" {
			lock += " OF d"
		}
	}
	row := q.QueryRowContext(ctx, "SELECT "+deploymentColumns(di)+`, t.template, t.terraform, t.tfvars
		FROM deployments d JOIN deployment_texts t ON t.deployment_id = d.id WHERE d.id = ?`+lock, id)
	d, err := scanDeployment(row, &template, &terraform, &tfvars)
	if err != nil {
		return nil, notFound(err, "deployment", id)
	}
	d.Template, d.Terraform, d.TFVars = template, terraform, tfvars
	return d, nil
}

// IsOwner reports whether the user owns the deployment.
func (r *Deployments) IsOwner(ctx context.Context, id, userID string) (bool, error) {
	var n int
	err := r.s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM deployment_owners WHERE deployment_id = ? AND user_id = ?", id, userID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check owner of %s: %w", id, err)
	}
	return n > 0, nil
}

// DeploymentFilter narrows a deployment listing. Zero values do not filter.
type DeploymentFilter struct {
	VisibleTo      string // a user id: only deployments they own; empty for admins
	Owner          string
	Statuses       []Status // OR
	TemplateID     string
	Target         string
	Labels         []LabelFilter // AND
	CreatedAfter   *time.Time
	CreatedBefore  *time.Time
	Q              string // text in the description
	UserGroup      string
	IncludeDeleted bool
}

// LabelFilter matches a label key, and its value when HasValue.
type LabelFilter struct {
	Key      string
	Value    string
	HasValue bool
}

// SortKey orders a listing by one field.
type SortKey struct {
	Field string
	Desc  bool
}

// DeploymentSortFields are the fields a listing may be sorted by.
var DeploymentSortFields = map[string]string{
	"created_at": "d.created_at", "updated_at": "d.updated_at", "status": "d.status",
	"description": "d.description", "target": "d.target", "id": "d.id",
}

// List returns a page of deployments, newest first unless sort says otherwise.
// A user's listing walks their owner rows (indexed by the deployments' creation
// time), an admin's the deployments' own indexes; neither scans the table. The
// total comes from a count cached for a moment (see countCache): a list page
// never pays a full count.
func (r *Deployments) List(ctx context.Context, f DeploymentFilter, sortBy []SortKey, p Page) ([]*Deployment, Total, error) {
	from, where, args := "deployments d", []string{}, []any{}
	byOwner := f.VisibleTo
	if byOwner == "" {
		byOwner = f.Owner
	} else if f.Owner != "" && f.Owner != f.VisibleTo {
		where = append(where, "EXISTS (SELECT 1 FROM deployment_owners o2 WHERE o2.deployment_id = d.id AND o2.user_id = ?)")
		args = append(args, f.Owner)
	}
	if byOwner != "" {
		from = "deployment_owners o JOIN deployments d ON d.id = o.deployment_id"
		where = append(where, "o.user_id = ?")
		args = append(args, byOwner)
	}
	includeDeleted := f.IncludeDeleted
	if len(f.Statuses) > 0 {
		marks := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			marks[i] = "?"
			args = append(args, string(s))
			if s == DeleteComplete {
				includeDeleted = true
			}
		}
		where = append(where, "d.status IN ("+strings.Join(marks, ",")+")")
	}
	if !includeDeleted {
		where = append(where, "d.deleted_at IS NULL")
	}
	if f.TemplateID != "" {
		where = append(where, "d.template_id = ?")
		args = append(args, f.TemplateID)
	}
	if f.Target != "" {
		where = append(where, "d.target = ?")
		args = append(args, f.Target)
	}
	di := r.s.db.d
	for _, l := range f.Labels {
		if l.HasValue {
			where = append(where, di.keyIs("d.labels"))
			args = append(args, l.Key, l.Value)
		} else {
			where = append(where, di.hasKey("d.labels"))
			args = append(args, l.Key)
		}
	}
	if f.CreatedAfter != nil {
		where = append(where, "d.created_at > ?")
		args = append(args, fmtTime(*f.CreatedAfter))
	}
	if f.CreatedBefore != nil {
		where = append(where, "d.created_at < ?")
		args = append(args, fmtTime(*f.CreatedBefore))
	}
	if f.Q != "" {
		where = append(where, di.contains("d.description"))
		args = append(args, f.Q)
	}
	if f.UserGroup != "" {
		where = append(where, "d.user_group = ?")
		args = append(args, f.UserGroup)
	}
	cond := "1=1"
	if len(where) > 0 {
		cond = strings.Join(where, " AND ")
	}
	order, err := orderBy(sortBy)
	if err != nil {
		return nil, Total{}, err
	}
	if byOwner != "" && order == defaultOrder {
		// The same order, read off the owner index.
		order = "o.deployment_created_at DESC, o.deployment_id DESC"
	}
	n, err := r.s.counts.get(ctx, r.s, "SELECT COUNT(*) FROM "+from+" WHERE "+cond, args)
	if err != nil {
		return nil, Total{}, fmt.Errorf("count deployments: %w", err)
	}
	rows, err := r.s.db.QueryContext(ctx, "SELECT "+deploymentColumns(di)+" FROM "+from+" WHERE "+cond+" ORDER BY "+order+" LIMIT ? OFFSET ?",
		append(args, p.limit(), p.offset())...)
	if err != nil {
		return nil, Total{}, fmt.Errorf("list deployments: %w", err)
	}
	defer rows.Close()
	list := []*Deployment{}
	for rows.Next() {
		d, err := scanDeployment(rows)
		if err != nil {
			return nil, Total{}, fmt.Errorf("list deployments: %w", err)
		}
		list = append(list, d)
	}
	return list, totalOf(n, p), rows.Err()
}

// defaultOrder is newest first, the order of the deployments_*created indexes.
const defaultOrder = "d.created_at DESC, d.id DESC"

func orderBy(keys []SortKey) (string, error) {
	if len(keys) == 0 {
		keys = []SortKey{{Field: "created_at", Desc: true}}
	}
	parts := []string{}
	for _, k := range keys {
		col, ok := DeploymentSortFields[k.Field]
		if !ok {
			return "", Errorf(EInvalid, "cannot sort by %q", k.Field).WithDetails(Detail{Field: "sort", Message: "unknown field " + k.Field})
		}
		dir := "ASC"
		if k.Desc {
			dir = "DESC"
		}
		parts = append(parts, col+" "+dir)
	}
	// A total order keeps pages stable when many rows share a value.
	return strings.Join(append(parts, "d.id DESC"), ", "), nil
}

// Meta is a metadata-only change; nil means unchanged.
type Meta struct {
	Description *string
	Labels      map[string]string
}

// UpdateMeta changes description and labels, whatever the status.
func (r *Deployments) UpdateMeta(ctx context.Context, id string, m Meta) (*Deployment, error) {
	err := r.s.tx(ctx, func(tx *txn) error {
		d, err := getDeployment(ctx, tx, id)
		if err != nil {
			return err
		}
		if m.Description != nil {
			d.Description = *m.Description
		}
		if m.Labels != nil {
			d.Labels = m.Labels
		}
		_, err = tx.ExecContext(ctx, "UPDATE deployments SET description = ?, labels = ?, updated_at = ? WHERE id = ?",
			d.Description, mustJSON(d.Labels), fmtTime(r.s.Now()), id)
		return err
	})
	if err != nil {
		return nil, wrapUnlessStoreError(err, "update deployment %s", id)
	}
	return r.Get(ctx, id)
}

// Request asks for a run on an existing deployment.
type Request struct {
	Kind      RunKind
	Params    RunParams
	CreatedBy string
	// Behind queues the run after the deployment's active runs instead of refusing
	// while one is active; its status move then happens when it starts.
	Behind bool
	// Change edits the deployment (new template, inputs, Terraform, power states,
	// callback) in the same transaction that queues the run. It may refuse with an error.
	Change func(d *Deployment) error
}

// Enqueue queues a run on a deployment and, when nothing else is active, moves the
// deployment to the run's in-progress status in the same transaction. An illegal
// status move, or another active run when Behind is false, is a conflict carrying
// the current status.
func (r *Deployments) Enqueue(ctx context.Context, id string, req Request) (*Run, error) {
	var run *Run
	err := r.s.tx(ctx, func(tx *txn) error {
		d, err := getDeployment(ctx, tx, id)
		if err != nil {
			return err
		}
		active, err := activeRuns(ctx, tx, id)
		if err != nil {
			return err
		}
		if active > 0 && !req.Behind {
			return statusConflict(d.Status, "deployment %s is busy: another run is queued or running", id)
		}
		if active == 0 {
			if req.Kind == RunAction {
				if !actionAllowed(d, req.Params) {
					return statusConflict(d.Status, "actions need a deployment in CREATE_COMPLETE, UPDATE_COMPLETE or UPDATE_FAILED, not %s", d.Status)
				}
			} else if err := Transition(d.Status, req.Kind.inProgress()); err != nil {
				return err
			} else {
				d.Status, d.StatusReason, d.Progress = req.Kind.inProgress(), "", Progress{}
			}
		}
		if req.Change != nil {
			if err := req.Change(d); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deployments SET status = ?, status_reason = ?, progress_done = ?, progress_planned = ?,
			template_id = ?, inputs = ?, power_states = ?, callback = ?, updated_at = ? WHERE id = ?`,
			d.Status, d.StatusReason, d.Progress.Done, d.Progress.Planned, nullIfEmpty(d.TemplateID),
			jsonOr(d.Inputs, "{}"), mustJSON(d.PowerStates), d.Callback, fmtTime(r.s.Now()), id); err != nil {
			return fmt.Errorf("update deployment %s: %w", id, err)
		}
		if req.Change != nil {
			if err := setTexts(ctx, tx, id, d.Template, d.Terraform, d.TFVars); err != nil {
				return err
			}
		}
		run, err = insertRun(ctx, tx, r.s, id, req.Kind, req.Params, req.CreatedBy)
		return err
	})
	if err != nil {
		return nil, wrapUnlessStoreError(err, "enqueue %s on %s", req.Kind, id)
	}
	return run, nil
}

func activeRuns(ctx context.Context, q queryer, deploymentID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM runs WHERE deployment_id = ? AND status IN ('queued', 'running')", deploymentID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count active runs of %s: %w", deploymentID, err)
	}
	return n, nil
}

// SetProgress records resources done out of planned for the running operation,
// while the worker holds its run (l).
func (r *Deployments) SetProgress(ctx context.Context, l Lease, id string, p Progress) error {
	err := r.s.fenced(ctx, l, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, "UPDATE deployments SET progress_done = ?, progress_planned = ? WHERE id = ?", p.Done, p.Planned, id)
		return err
	})
	if err != nil {
		return wrapUnlessStoreError(err, "set progress of %s", id)
	}
	return nil
}

// SetGenerated stores the Terraform generated for a deployment, while the
// worker holds its run (l).
func (r *Deployments) SetGenerated(ctx context.Context, l Lease, id, terraform, tfvars string) error {
	err := r.s.fenced(ctx, l, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, "UPDATE deployment_texts SET terraform = ?, tfvars = ? WHERE deployment_id = ?", terraform, tfvars, id)
		return err
	})
	if err != nil {
		return wrapUnlessStoreError(err, "store terraform of %s", id)
	}
	return nil
}

// setTexts replaces a deployment's template and generated Terraform.
func setTexts(ctx context.Context, tx *txn, id, template, terraform, tfvars string) error {
	_, err := tx.ExecContext(ctx, "UPDATE deployment_texts SET template = ?, terraform = ?, tfvars = ? WHERE deployment_id = ?",
		template, terraform, tfvars, id)
	if err != nil {
		return fmt.Errorf("store the texts of %s: %w", id, err)
	}
	return nil
}

// insertOwner makes user an owner of a deployment (already one: nothing changes).
// The owner row carries the deployment's creation time for "my deployments,
// newest first".
func insertOwner(ctx context.Context, tx *txn, deploymentID, user string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO deployment_owners (deployment_id, user_id, created_at, deployment_created_at)
		SELECT id, ?, ?, created_at FROM deployments WHERE id = ? ON CONFLICT DO NOTHING`, user, fmtTime(now), deploymentID)
	if err != nil {
		return fmt.Errorf("insert owner %s of %s: %w", user, deploymentID, err)
	}
	return nil
}

// SetOutputs stores the resolved TOSCA outputs.
func (r *Deployments) SetOutputs(ctx context.Context, id string, outputs json.RawMessage) error {
	_, err := r.s.db.ExecContext(ctx, "UPDATE deployments SET outputs = ? WHERE id = ?", jsonOr(outputs, "{}"), id)
	if err != nil {
		return fmt.Errorf("store outputs of %s: %w", id, err)
	}
	return nil
}

// Reset fails a stalled deployment: only an in-progress one, and only when no
// worker holds it (no running run whose lease lasts past now). Queued runs are
// cancelled and a running run whose lease expired is failed.
func (r *Deployments) Reset(ctx context.Context, id, reason string, now time.Time) (*Deployment, error) {
	err := r.s.tx(ctx, func(tx *txn) error {
		// Runs first, then the deployment: the order every transaction locks them in.
		rows, err := tx.QueryContext(ctx, "SELECT id FROM runs WHERE deployment_id = ? AND status IN ('queued', 'running')"+tx.d.forUpdate(), id)
		if err != nil {
			return fmt.Errorf("reset %s: %w", id, err)
		}
		rows.Close()
		d, err := getDeployment(ctx, tx, id)
		if err != nil {
			return err
		}
		if !d.Status.InProgress() {
			return statusConflict(d.Status, "only a deployment in progress can be reset, this one is %s", d.Status)
		}
		var held int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE deployment_id = ? AND status = 'running'
			AND lease_until >= ?`, id, fmtTime(now)).Scan(&held); err != nil {
			return fmt.Errorf("reset %s: %w", id, err)
		}
		if held > 0 {
			return statusConflict(d.Status, "a worker is still running deployment %s; cancel its run instead", id)
		}
		now := fmtTime(r.s.Now())
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = CASE status WHEN 'queued' THEN 'cancelled' ELSE 'failed' END,
			error = ?, finished_at = ? WHERE deployment_id = ? AND status IN ('queued', 'running')`, reason, now, id); err != nil {
			return fmt.Errorf("reset runs of %s: %w", id, err)
		}
		return setStatus(ctx, tx, r.s, d, d.Status.Failed(), reason)
	})
	if err != nil {
		return nil, wrapUnlessStoreError(err, "reset deployment %s", id)
	}
	return r.Get(ctx, id)
}

// setStatus moves a deployment through Transition and records why. A final
// status of a deployment with a callback queues the callback in the same
// transaction.
func setStatus(ctx context.Context, tx *txn, s *Store, d *Deployment, next Status, reason string) error {
	if err := Transition(d.Status, next); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "UPDATE deployments SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?",
		next, reason, fmtTime(s.Now()), d.ID)
	if err != nil {
		return fmt.Errorf("set status of %s: %w", d.ID, err)
	}
	d.Status, d.StatusReason = next, reason
	if next.Final() && d.Callback != "" {
		return queueCallback(ctx, tx, s, d)
	}
	return nil
}

// Orphaned returns in-progress deployments that have no queued or running run:
// nothing will ever finish them.
func (r *Deployments) Orphaned(ctx context.Context) ([]string, error) {
	rows, err := r.s.db.QueryContext(ctx, `SELECT d.id FROM deployments d WHERE d.status IN ('CREATE_IN_PROGRESS', 'UPDATE_IN_PROGRESS', 'DELETE_IN_PROGRESS')
		AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.deployment_id = d.id AND r.status IN ('queued', 'running')) ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("find orphaned deployments: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// FailOrphaned moves an in-progress deployment with no active run to its failed
// status; it does nothing when a run appeared meanwhile.
func (r *Deployments) FailOrphaned(ctx context.Context, id, reason string) (bool, error) {
	failed := false
	err := r.s.tx(ctx, func(tx *txn) error {
		failed = false
		d, err := getDeployment(ctx, tx, id)
		if err != nil {
			return err
		}
		active, err := activeRuns(ctx, tx, id)
		if err != nil || active > 0 || !d.Status.InProgress() {
			return err
		}
		failed = true
		return setStatus(ctx, tx, r.s, d, d.Status.Failed(), reason)
	})
	return failed, err
}

// HardDelete removes a deployment and everything stored for it (runs, resources,
// states, logs). While its infrastructure may exist it is a conflict unless force.
func (r *Deployments) HardDelete(ctx context.Context, id string, force bool) error {
	return r.s.tx(ctx, func(tx *txn) error {
		tx.notify(topicCounts, "deployments") // list totals: read your own writes
		d, err := getDeployment(ctx, tx, id)
		if err != nil {
			return err
		}
		active, err := activeRuns(ctx, tx, id)
		if err != nil {
			return err
		}
		if active > 0 {
			return statusConflict(d.Status, "deployment %s has a run queued or running; cancel it first", id)
		}
		if d.Infrastructure && !force {
			return statusConflict(d.Status, "the infrastructure of deployment %s may still exist (status %s); delete it first or pass force=true", id, d.Status)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM deployments WHERE id = ?", id); err != nil {
			return fmt.Errorf("hard delete %s: %w", id, err)
		}
		return nil
	})
}

// Existing returns the ids of every deployment in the store (soft-deleted ones
// included), so that workdirs of hard-deleted ones can go.
func (r *Deployments) Existing(ctx context.Context) (map[string]bool, error) {
	rows, err := r.s.db.QueryContext(ctx, "SELECT id FROM deployments")
	if err != nil {
		return nil, fmt.Errorf("list deployment ids: %w", err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, rows.Err()
}

// AddOwner makes a user an owner of a deployment; adding an owner twice is a no-op.
func (r *Deployments) AddOwner(ctx context.Context, id, userID string) error {
	return r.s.tx(ctx, func(tx *txn) error {
		tx.notify(topicCounts, "deployments") // list totals: read your own writes
		if _, err := getDeployment(ctx, tx, id); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE id = ?", userID).Scan(&n); err != nil {
			return fmt.Errorf("add owner: %w", err)
		}
		if n == 0 {
			return Errorf(EInvalid, "user %q does not exist", userID).WithDetails(Detail{Field: "user_id", Message: "unknown user"})
		}
		return insertOwner(ctx, tx, id, userID, r.s.Now())
	})
}

// RemoveOwner removes an owner; the last owner is never removed.
func (r *Deployments) RemoveOwner(ctx context.Context, id, userID string) error {
	return r.s.tx(ctx, func(tx *txn) error {
		tx.notify(topicCounts, "deployments") // list totals: read your own writes
		d, err := getDeployment(ctx, tx, id)
		if err != nil {
			return err
		}
		found := false
		for _, o := range d.Owners {
			found = found || o == userID
		}
		if !found {
			return Errorf(ENotFound, "user %q does not own deployment %s", userID, id)
		}
		if len(d.Owners) == 1 {
			return Errorf(EConflict, "cannot remove the last owner of deployment %s", id)
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM deployment_owners WHERE deployment_id = ? AND user_id = ?", id, userID)
		return err
	})
}

// SetPowerStates records which Compute instances should be started or
// stopped, while the worker holds its run (l).
func (r *Deployments) SetPowerStates(ctx context.Context, l Lease, id string, states map[string]map[string]string) error {
	err := r.s.fenced(ctx, l, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, "UPDATE deployments SET power_states = ? WHERE id = ?", mustJSON(states), id)
		return err
	})
	if err != nil {
		return wrapUnlessStoreError(err, "set power states of %s", id)
	}
	return nil
}

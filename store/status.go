package store

// Status is where a deployment is in its life (SPEC §4).
type Status string

// Deployment statuses.
const (
	CreateInProgress Status = "CREATE_IN_PROGRESS"
	CreateComplete   Status = "CREATE_COMPLETE"
	CreateFailed     Status = "CREATE_FAILED"
	UpdateInProgress Status = "UPDATE_IN_PROGRESS"
	UpdateComplete   Status = "UPDATE_COMPLETE"
	UpdateFailed     Status = "UPDATE_FAILED"
	DeleteInProgress Status = "DELETE_IN_PROGRESS"
	DeleteComplete   Status = "DELETE_COMPLETE"
	DeleteFailed     Status = "DELETE_FAILED"
	Unknown          Status = "UNKNOWN"
)

// Statuses lists every deployment status, for validating filters.
var Statuses = []Status{CreateInProgress, CreateComplete, CreateFailed, UpdateInProgress, UpdateComplete,
	UpdateFailed, DeleteInProgress, DeleteComplete, DeleteFailed, Unknown}

// legal is the table of status moves; anything not listed is refused.
var legal = map[Status][]Status{
	CreateInProgress: {CreateComplete, CreateFailed},
	CreateComplete:   {UpdateInProgress, DeleteInProgress},
	CreateFailed:     {DeleteInProgress},
	UpdateInProgress: {UpdateComplete, UpdateFailed},
	UpdateComplete:   {UpdateInProgress, DeleteInProgress},
	UpdateFailed:     {UpdateInProgress, DeleteInProgress},
	DeleteInProgress: {DeleteComplete, DeleteFailed},
	DeleteFailed:     {DeleteInProgress},
	Unknown:          {UpdateInProgress, DeleteInProgress},
}

// Transition moves a deployment from one status to the next, or says why it cannot.
// Every status change in the service goes through here.
func Transition(from, next Status) error {
	for _, s := range legal[from] {
		if s == next {
			return nil
		}
	}
	return statusConflict(from, "cannot go from %s to %s", from, next)
}

// statusConflict is the 409 every refused status move returns: it carries the
// current status so clients can show it.
func statusConflict(current Status, format string, args ...any) *Error {
	return Errorf(EConflict, format, args...).WithDetails(Detail{
		Field: "status", Message: "current status is " + string(current),
		Extra: map[string]any{"current_status": string(current)},
	})
}

// InProgress reports whether a run is (or should be) working on the deployment.
func (s Status) InProgress() bool {
	return s == CreateInProgress || s == UpdateInProgress || s == DeleteInProgress
}

// Final reports whether an operation ended in this status, successfully or not.
func (s Status) Final() bool {
	switch s {
	case CreateComplete, CreateFailed, UpdateComplete, UpdateFailed, DeleteComplete, DeleteFailed:
		return true
	}
	return false
}

// Failed is the failure status that ends an in-progress status.
func (s Status) Failed() Status {
	switch s {
	case CreateInProgress:
		return CreateFailed
	case UpdateInProgress:
		return UpdateFailed
	case DeleteInProgress:
		return DeleteFailed
	}
	return s
}

// Complete is the success status that ends an in-progress status.
func (s Status) Complete() Status {
	switch s {
	case CreateInProgress:
		return CreateComplete
	case UpdateInProgress:
		return UpdateComplete
	case DeleteInProgress:
		return DeleteComplete
	}
	return s
}

// Settled reports whether day-2 actions may run: the deployment exists and no
// operation is under way or broken halfway through a create or delete.
func (s Status) Settled() bool {
	return s == CreateComplete || s == UpdateComplete || s == UpdateFailed
}

// ResourceState is where one resource (a TOSCA node instance) is (SPEC §4).
type ResourceState string

// Resource states.
const (
	ResInitial     ResourceState = "INITIAL"
	ResCreating    ResourceState = "CREATING"
	ResCreated     ResourceState = "CREATED"
	ResConfiguring ResourceState = "CONFIGURING"
	ResConfigured  ResourceState = "CONFIGURED"
	ResStarting    ResourceState = "STARTING"
	ResStarted     ResourceState = "STARTED"
	ResStopping    ResourceState = "STOPPING"
	ResStopped     ResourceState = "STOPPED"
	ResDeleting    ResourceState = "DELETING"
	ResDeleted     ResourceState = "DELETED"
	ResError       ResourceState = "ERROR"
)

// RunKind is what a run does to a deployment.
type RunKind string

// Run kinds.
const (
	RunCreate   RunKind = "create"
	RunUpdate   RunKind = "update"
	RunRedeploy RunKind = "redeploy"
	RunDelete   RunKind = "delete"
	RunAction   RunKind = "action"
)

// inProgress is the deployment status a run of this kind holds while it works;
// actions leave the deployment's status alone and move resource states instead.
func (k RunKind) inProgress() Status {
	switch k {
	case RunCreate:
		return CreateInProgress
	case RunUpdate, RunRedeploy:
		return UpdateInProgress
	case RunDelete:
		return DeleteInProgress
	}
	return ""
}

// RunStatus is where a run is.
type RunStatus string

// Run statuses.
const (
	RunQueued    RunStatus = "queued"
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCancelled RunStatus = "cancelled"
)

// Active reports whether the run still holds its deployment.
func (s RunStatus) Active() bool { return s == RunQueued || s == RunRunning }

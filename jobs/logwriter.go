package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"orchestrator/store"
)

// logWriter turns a run's output into log lines, in batches so that a chatty
// apply costs a few transactions per second, and tracks progress (resources done
// out of planned) from Terraform's JSON stream.
//
// Lines of a Terraform process come from its output file; each batch is stored
// together with how far that file has been read (store.Runs.AppendStream), so a
// service that restarts mid-run reads on exactly after the last stored line.
// The lines before that point are read again only for progress and errors.
//
// A line saying a resource was created is stored only once a stored state
// version holds that resource (gate): whatever replica reads the log after a
// crash, the stored state never knows fewer resources than the log says were
// created. The engine stores the state as soon as such a line waits.
type logWriter struct {
	store        *store.Store
	deploymentID string
	runID        string
	// lease is the run's: every write is refused once it is lost.
	lease store.Lease
	log   *slog.Logger
	lost  bool // the lease is lost: nothing more can be written

	mu       sync.Mutex
	pending  []pendingLine
	progress store.Progress
	// gate reports whether a stored state holds a resource address; lines
	// announcing its creation wait for it. nil: no line waits.
	gate func(address string) bool
	// needState asks the engine to store the state: a line waits for it.
	needState chan struct{}
	dirty     bool
	// errors are the summaries of Terraform's error diagnostics, for status_reason.
	errors []string

	// The process stream being read.
	streaming bool
	offset    int64 // end of the last line read
	committed int64 // offset stored with the lines
	replayTo  int64 // lines ending at or before it are stored already
	quiet     bool  // read for errors only, not logged
	summary   bool  // the command reported its change summary: it completed
	failures  int   // error diagnostics of this stream

	flushMu sync.Mutex // one flush at a time, so batches and offsets stay in order
	done    chan struct{}
	wg      sync.WaitGroup
}

// newLogWriter writes the log of the run the lease is on (a zero Token: a run
// that already ended, read on by recovery).
func newLogWriter(st *store.Store, deploymentID string, lease store.Lease, log *slog.Logger) *logWriter {
	w := &logWriter{store: st, deploymentID: deploymentID, runID: lease.RunID, lease: lease, log: log, done: make(chan struct{}),
		needState: make(chan struct{}, 1)}
	w.wg.Add(1)
	go w.flushLoop()
	return w
}

func (w *logWriter) flushLoop() {
	defer w.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			w.flushAll()
			return
		case <-t.C:
			w.flush()
		}
	}
}

// pendingLine is a line waiting to be stored.
type pendingLine struct {
	line *store.LogLine
	end  int64 // where it ends in the process stream; -1 for the orchestrator's own lines
	// created is the resource whose creation the line announces: it waits
	// until a stored state holds it.
	created string
	at      time.Time
}

// add queues one line.
func (w *logWriter) add(level, source, resource, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(w.pending, pendingLine{line: &store.LogLine{Time: w.store.Now(), Level: level, Source: source, RunID: w.runID,
		Resource: resource, Message: msg}, end: -1})
}

// maxPending bounds the lines kept for a retry when the database refuses a batch.
const maxPending = 20000

// maxHold bounds how long a creation line waits for a state holding its
// resource: Terraform writes its state right after each resource, so a
// longer wait means the addresses do not match, and the line goes (logged).
const maxHold = 30 * time.Second

func (w *logWriter) flush() { w.flushUpTo(false) }

// flushAll stores every queued line, waiting ones included (the process
// ended: its final state was stored, or cannot be).
func (w *logWriter) flushAll() { w.flushUpTo(true) }

func (w *logWriter) flushUpTo(all bool) {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	queued, progress, dirty := w.pending, w.progress, w.dirty
	cut := len(queued)
	for i, p := range queued {
		if all || p.created == "" || w.gate == nil || w.gate(p.created) {
			continue
		}
		if time.Since(p.at) > maxHold {
			w.log.Warn("a creation line waited too long for a stored state holding its resource", "run", w.runID, "resource", p.created)
			continue
		}
		cut = i
		select {
		case w.needState <- struct{}{}:
		default:
		}
		break
	}
	offset := w.offset
	if cut < len(queued) {
		// The stream is stored up to the last line sent: after a crash the
		// waiting lines are read again.
		offset = w.committed
		for _, p := range queued[:cut] {
			offset = max(offset, p.end)
		}
	}
	stream := w.streaming && offset != w.committed
	lines := make([]*store.LogLine, cut)
	for i, p := range queued[:cut] {
		lines[i] = p.line
	}
	w.pending, w.dirty = append([]pendingLine(nil), queued[cut:]...), false
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	switch {
	case w.lost:
		return // a worker that lost its run writes nothing of it
	case stream:
		err = w.store.Runs.AppendStream(ctx, w.lease, offset, lines...)
	case len(lines) > 0:
		err = w.store.Runs.AppendLog(ctx, w.lease, w.deploymentID, lines...)
	}
	w.mu.Lock()
	if store.IsLeaseLost(err) {
		w.lost = true
		w.mu.Unlock()
		w.log.Warn("the run's lease is lost: its log lines from here on are dropped", "run", w.runID, "deployment", w.deploymentID)
		return
	}
	if err == nil && stream {
		w.committed = offset
	} else if err != nil && !store.IsNotFound(err) {
		w.log.Error("append logs", "deployment", w.deploymentID, "error", err.Error())
		// Keep the batch for the next flush, in front of what came meanwhile.
		if len(queued)+len(w.pending) <= maxPending {
			w.pending = append(append([]pendingLine(nil), queued[:cut]...), w.pending...)
		}
	}
	w.mu.Unlock()
	if dirty {
		if err := w.store.Deployments.SetProgress(ctx, w.lease, w.deploymentID, progress); err != nil && !store.IsLeaseLost(err) {
			w.log.Error("set progress", "deployment", w.deploymentID, "error", err.Error())
		}
	}
}

// sync stores everything queued so far.
func (w *logWriter) sync() { w.flushAll() }

// Close writes what is left.
func (w *logWriter) Close() {
	close(w.done)
	w.wg.Wait()
}

// beginStream starts reading a new process stream: lines ending at or before
// stored are in the store already (a restarted service reads them again for
// progress and errors only); a quiet stream is read for its errors, not logged.
func (w *logWriter) beginStream(stored int64, quiet bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.streaming, w.offset, w.committed, w.replayTo, w.quiet = true, stored, stored, stored, quiet
	w.summary, w.failures = false, 0
}

// streamResult says how the current stream's command ended, as its output tells.
func (w *logWriter) streamResult() (summary bool, failures int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.summary, w.failures
}

// streamLine takes one line of the current stream, which ends at offset end.
func (w *logWriter) streamLine(line []byte, end int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	replay := end <= w.replayTo
	if !replay {
		w.offset = end
	}
	l, created := w.terraformLineLocked(line)
	if l != nil && !replay && !w.quiet {
		w.pending = append(w.pending, pendingLine{line: l, end: end, created: created, at: time.Now()})
	}
}

// tfMessage is the part of Terraform's machine-readable UI messages we read.
type tfMessage struct {
	Level   string `json:"@level"`
	Message string `json:"@message"`
	Type    string `json:"type"`
	Hook    struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action string `json:"action"`
	} `json:"hook"`
	Change struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action string `json:"action"`
	} `json:"change"`
	Changes struct {
		Operation string `json:"operation"` // plan, apply, destroy, ...
	} `json:"changes"`
	Diagnostic struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
		Address  string `json:"address"`
	} `json:"diagnostic"`
}

var levels = map[string]string{"trace": store.LevelDebug, "debug": store.LevelDebug, "info": store.LevelInfo,
	"warn": store.LevelWarn, "error": store.LevelError}

// terraformLineLocked reads one line of Terraform's output: progress, errors and
// whether the command completed; it returns the log line to store (nil for
// none), and the address of the resource whose creation it announces.
func (w *logWriter) terraformLineLocked(line []byte) (*store.LogLine, string) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil, ""
	}
	var m tfMessage
	if err := json.Unmarshal(line, &m); err != nil {
		// Not JSON (a crash message, a provider's raw output): keep it as it is.
		return &store.LogLine{Time: w.store.Now(), Level: store.LevelInfo, Source: store.SourceTerraform, RunID: w.runID, Message: string(line)}, ""
	}
	created := ""
	// Lines are stamped with the service's clock, not Terraform's: retention and
	// the since/until filters compare them with that clock.
	l := &store.LogLine{Time: w.store.Now(), Level: levels[m.Level], Source: store.SourceTerraform, RunID: w.runID, Message: m.Message}
	if l.Level == "" {
		l.Level = store.LevelInfo
	}
	l.Resource = m.Hook.Resource.Addr
	if l.Resource == "" {
		l.Resource = m.Change.Resource.Addr
	}
	switch m.Type {
	case "planned_change":
		n := 1
		if m.Change.Action == "replace" {
			n = 2 // a replacement completes twice: destroy, then create
		}
		if m.Change.Action != "noop" {
			w.progress.Planned += n
			w.dirty = true
		}
	case "apply_complete", "apply_errored":
		if w.progress.Done < w.progress.Planned {
			w.progress.Done++
			w.dirty = true
		}
		if m.Type == "apply_complete" && (m.Hook.Action == "create" || m.Hook.Action == "replace") {
			created = m.Hook.Resource.Addr
		}
	case "change_summary":
		// Apply and destroy print the plan's summary first: only the final one
		// says the command completed.
		if m.Changes.Operation != "plan" {
			w.summary = true
		}
	case "diagnostic":
		if l.Resource == "" {
			l.Resource = m.Diagnostic.Address
		}
		if m.Diagnostic.Severity == "error" {
			w.failures++
			msg := m.Diagnostic.Summary
			if d := strings.TrimSpace(m.Diagnostic.Detail); d != "" {
				msg += ": " + d
			}
			if len(w.errors) < 5 {
				w.errors = append(w.errors, msg)
			}
			l.Message = "Error: " + msg
		}
	}
	return l, created
}

// failureMessages returns the error diagnostics seen so far.
func (w *logWriter) failureMessages() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.errors...)
}

// endStream stores what was read of the current stream, with its offset; later
// lines are the orchestrator's own until the next stream begins. Its process
// has ended (or is given up on): lines waiting for a state go too.
func (w *logWriter) endStream() {
	w.flushAll()
	w.mu.Lock()
	w.streaming = false
	w.mu.Unlock()
}

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
type logWriter struct {
	store        *store.Store
	deploymentID string
	runID        string
	log          *slog.Logger

	mu       sync.Mutex
	pending  []*store.LogLine
	partial  []byte
	progress store.Progress
	dirty    bool
	// errors are the summaries of Terraform's error diagnostics, for status_reason.
	errors []string
	done   chan struct{}
	wg     sync.WaitGroup
}

func newLogWriter(st *store.Store, deploymentID, runID string, log *slog.Logger) *logWriter {
	w := &logWriter{store: st, deploymentID: deploymentID, runID: runID, log: log, done: make(chan struct{})}
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
			w.flush()
			return
		case <-t.C:
			w.flush()
		}
	}
}

// add queues one line.
func (w *logWriter) add(level, source, resource, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(w.pending, &store.LogLine{Time: w.store.Now(), Level: level, Source: source, RunID: w.runID, Resource: resource, Message: msg})
}

func (w *logWriter) flush() {
	w.mu.Lock()
	lines, progress, dirty := w.pending, w.progress, w.dirty
	w.pending, w.dirty = nil, false
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(lines) > 0 {
		if err := w.store.Logs.Append(ctx, w.deploymentID, lines...); err != nil {
			w.log.Error("append logs", "deployment", w.deploymentID, "error", err.Error())
		}
	}
	if dirty {
		if err := w.store.Deployments.SetProgress(ctx, w.deploymentID, progress); err != nil {
			w.log.Error("set progress", "deployment", w.deploymentID, "error", err.Error())
		}
	}
}

// Close writes what is left.
func (w *logWriter) Close() {
	w.mu.Lock()
	if len(w.partial) > 0 {
		w.terraformLineLocked(w.partial)
		w.partial = nil
	}
	w.mu.Unlock()
	close(w.done)
	w.wg.Wait()
}

// terraformStream is the io.Writer Terraform's -json output goes to.
type terraformStream struct{ w *logWriter }

func (s terraformStream) Write(p []byte) (int, error) {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := w.partial[:i]
		w.partial = w.partial[i+1:]
		w.terraformLineLocked(line)
	}
	return len(p), nil
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
	} `json:"hook"`
	Change struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action string `json:"action"`
	} `json:"change"`
	Diagnostic struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
		Address  string `json:"address"`
	} `json:"diagnostic"`
}

var levels = map[string]string{"trace": store.LevelDebug, "debug": store.LevelDebug, "info": store.LevelInfo,
	"warn": store.LevelWarn, "error": store.LevelError}

func (w *logWriter) terraformLineLocked(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	var m tfMessage
	if err := json.Unmarshal(line, &m); err != nil {
		// Not JSON (a crash message, a provider's raw output): keep it as it is.
		w.pending = append(w.pending, &store.LogLine{Time: w.store.Now(), Level: store.LevelInfo, Source: store.SourceTerraform,
			RunID: w.runID, Message: string(line)})
		return
	}
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
	case "diagnostic":
		if l.Resource == "" {
			l.Resource = m.Diagnostic.Address
		}
		if m.Diagnostic.Severity == "error" {
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
	w.pending = append(w.pending, l)
}

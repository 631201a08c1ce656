package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
)

// logFilter reads the log filters shared by listing and following.
func logFilter(q *query) (store.LogFilter, error) {
	var f store.LogFilter
	var err error
	if f.Since, err = q.timestamp("since"); err != nil {
		return f, err
	}
	if f.Until, err = q.timestamp("until"); err != nil {
		return f, err
	}
	f.Level, f.Source, f.RunID = q.str("level"), q.str("source"), q.str("run_id")
	if f.Level != "" && !contains(store.LogLevels, f.Level) {
		return f, store.Errorf(store.EBadRequest, "level must be one of %v", store.LogLevels).WithDetails(store.Detail{Field: "level", Message: "unknown level"})
	}
	if f.Source != "" && !contains(store.LogSources, f.Source) {
		return f, store.Errorf(store.EBadRequest, "source must be one of %v", store.LogSources).WithDetails(store.Detail{Field: "source", Message: "unknown source"})
	}
	if a := q.str("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 {
			return f, store.Errorf(store.EBadRequest, "after must be a log sequence number").WithDetails(store.Detail{Field: "after", Message: "not a number"})
		}
		f.AfterSeq = n
	}
	return f, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// getLogs lists a deployment's log lines, or follows them as Server-Sent Events
// (follow=true), resuming after Last-Event-ID. Logs outlive soft deletion.
func (s *Server) getLogs(c *fiber.Ctx) error {
	q, err := parseQuery(c, "since", "until", "level", "source", "run_id", "page", "size", "follow", "after")
	if err != nil {
		return err
	}
	f, err := logFilter(q)
	if err != nil {
		return err
	}
	follow, err := q.boolean("follow")
	if err != nil {
		return err
	}
	if !follow {
		// A page of the log: cached while nothing is written (the ownership
		// check included: it cannot change without a write).
		return s.cachedList(c, func() (any, error) {
			d, err := s.deployment(c, c.Params("id"))
			if err != nil {
				return nil, err
			}
			page, err := q.page()
			if err != nil {
				return nil, err
			}
			lines, total, err := s.store.Logs.List(c.UserContext(), d.ID, f, page)
			if err != nil {
				return nil, err
			}
			return newList(c, lines, page, total), nil
		})
	}
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	if id := c.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n < 0 {
			return badRequest("Last-Event-ID must be a log sequence number")
		}
		f.AfterSeq = n
	}
	return s.followLogs(c, d.ID, f)
}

// followLogs streams lines as they are written. The stream ends (event "end")
// once the deployment has no queued or running run and every line was sent.
func (s *Server) followLogs(c *fiber.Ctx, deploymentID string, f store.LogFilter) error {
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	st, done := s.store, s.done
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-done:
				cancel()
			case <-ctx.Done():
			}
		}()
		cursor := f.AfterSeq
		for ctx.Err() == nil {
			last, err := st.Logs.LastSeq(ctx, deploymentID)
			if err != nil {
				return // deleted meanwhile
			}
			f.AfterSeq = cursor
			lines, err := st.Logs.Next(ctx, deploymentID, f, store.MaxPageSize)
			if err != nil {
				return
			}
			for _, l := range lines {
				data, _ := json.Marshal(l)
				fmt.Fprintf(w, "id: %d\nevent: log\ndata: %s\n\n", l.Seq, data)
				if l.Seq > cursor {
					cursor = l.Seq
				}
			}
			if len(lines) == store.MaxPageSize {
				if w.Flush() != nil {
					return
				}
				continue // more to send at once
			}
			if last > cursor {
				cursor = last // lines up to last were filtered out
			}
			d, err := st.Deployments.Get(ctx, deploymentID)
			if err != nil {
				return
			}
			active, err := st.Runs.Active(ctx, deploymentID)
			if err != nil {
				return
			}
			if len(active) == 0 && !d.Status.InProgress() {
				data, _ := json.Marshal(map[string]any{"status": d.Status, "status_reason": d.StatusReason, "progress": d.Progress})
				fmt.Fprintf(w, "event: end\ndata: %s\n\n", data)
				w.Flush()
				return
			}
			data, _ := json.Marshal(map[string]any{"status": d.Status, "progress": d.Progress})
			fmt.Fprintf(w, "event: status\ndata: %s\n\n", data)
			if w.Flush() != nil {
				return // the client went away
			}
			wait, cancelWait := context.WithTimeout(ctx, 2*time.Second)
			_ = st.Logs.Wait(wait, deploymentID, cursor)
			cancelWait()
		}
	})
	return nil
}

// purgeLogs queues a job deleting log lines older than a period (admins), like
// the retention schedule: 202 with the job, to follow at /api/v1/jobs/{id}.
// minPurgeAge is the youngest age a manual purge takes without force: a typo such
// as older_than=0 must not wipe every log of every deployment.
const minPurgeAge = time.Hour

func (s *Server) purgeLogs(c *fiber.Ctx) error {
	q, err := parseQuery(c, "older_than", "force")
	if err != nil {
		return err
	}
	force, err := q.boolean("force")
	if err != nil {
		return err
	}
	raw := q.str("older_than")
	if raw == "" {
		return badRequest("older_than is required, e.g. older_than=30d")
	}
	d, err := parseAge(raw)
	if err != nil {
		return store.Errorf(store.EBadRequest, "older_than must be a duration such as 30d or 12h").WithDetails(store.Detail{Field: "older_than", Message: err.Error()})
	}
	if d < minPurgeAge && !force {
		return store.Errorf(store.EInvalid, "older_than=%s would delete recent logs, runs in progress included; "+
			"the minimum is 1h: pass force=true to purge more recent lines anyway", raw).
			WithDetails(store.Detail{Field: "older_than", Message: "must be at least 1h unless force=true"})
	}
	j, err := s.engine.QueuePurge(c.UserContext(), s.now().Add(-d), raw, principalOf(c).User.ID)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/api/v1/jobs/"+j.ID)
	return c.Status(fiber.StatusAccepted).JSON(j)
}

// parseAge reads "30d", "12h", "90m".
func parseAge(s string) (time.Duration, error) {
	if n := len(s); n > 1 && s[n-1] == 'd' {
		days, err := strconv.Atoi(s[:n-1])
		if err != nil || days < 0 || days > 36500 {
			return 0, fmt.Errorf("bad day count %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}

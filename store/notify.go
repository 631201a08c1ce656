package store

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Topic is a kind of change that processes of the service wait for: a worker
// for a queued run, a follower for a new log line. Writers publish with the
// transaction that makes the change; every process of the service (every
// replica sharing a PostgreSQL database) hears it once the change is committed.
type Topic string

// Topics.
const (
	// TopicRuns: a run was queued or ended; workers look at the queue.
	TopicRuns Topic = "orc_runs"
	// TopicJobs: a background job was queued.
	TopicJobs Topic = "orc_jobs"
	// TopicLogs: a deployment's log grew; the payload is the deployment id
	// ("" after a lost connection: any log may have grown).
	TopicLogs Topic = "orc_logs"
	// TopicCancel: a cancel of a running run was asked; the payload is its id.
	TopicCancel Topic = "orc_cancel"
)

// topicCounts: cached counts mentioning the payload (a table, a deployment)
// are out of date. The writer's own process drops them at the commit (read
// your own writes), other replicas when they hear it.
const topicCounts Topic = "orc_counts"

var topics = []Topic{TopicRuns, TopicJobs, TopicLogs, TopicCancel, topicCounts}

// events delivers published topics to this process's subscribers. On SQLite
// (one process) a commit dispatches them directly; on PostgreSQL they travel
// as NOTIFY and a listening connection dispatches them, this process's own
// included.
type events struct {
	mu   sync.Mutex
	subs map[Topic]map[int]func(string)
	next int
	// listening is closed once the first LISTEN is in place (PostgreSQL).
	listening chan struct{}
}

func newEvents() *events {
	return &events{subs: map[Topic]map[int]func(string){}, listening: make(chan struct{})}
}

// Subscribe calls fn with the payload of every notification of topic, from any
// process, until the returned function is called. fn runs on the dispatching
// goroutine: it must not block.
func (s *Store) Subscribe(topic Topic, fn func(payload string)) (unsubscribe func()) {
	e := s.events
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.subs[topic] == nil {
		e.subs[topic] = map[int]func(string){}
	}
	e.next++
	id := e.next
	e.subs[topic][id] = fn
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.subs[topic], id)
	}
}

func (e *events) dispatch(topic Topic, payload string) {
	e.mu.Lock()
	fns := make([]func(string), 0, len(e.subs[topic]))
	for _, fn := range e.subs[topic] {
		fns = append(fns, fn)
	}
	e.mu.Unlock()
	for _, fn := range fns {
		fn(payload)
	}
}

// Publish notifies every process of the service of topic (outside any write).
func (s *Store) Publish(ctx context.Context, topic Topic, payload string) error {
	return s.tx(ctx, func(tx *txn) error { tx.notify(topic, payload); return nil })
}

// listen keeps a connection LISTENing to every topic and dispatches what it
// hears, until ctx ends. After a lost connection it reconnects and tells every
// subscriber that anything may have changed (payload ""), so a notification
// missed meanwhile costs a look, never a lost wake-up; pollers' timers are the
// last resort.
func (s *Store) listen(ctx context.Context, dsn string) {
	first := true
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, dsn, func() {
			if first {
				first = false
				close(s.events.listening)
				return
			}
			for _, t := range topics {
				s.events.dispatch(t, "")
			}
		})
		if ctx.Err() != nil {
			return
		}
		s.log("database notifications: connection lost, reconnecting", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context, dsn string, connected func()) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, t := range topics {
		if _, err := conn.Exec(ctx, "LISTEN "+string(t)); err != nil {
			return err
		}
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		s.events.dispatch(Topic(n.Channel), n.Payload)
	}
}

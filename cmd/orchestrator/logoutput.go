package main

import (
	"io"
	"sync"
	"time"
)

// logOutput is the service's log stream with two ways in. Access log lines
// (one per request) are buffered and written at most every flushEvery: a write
// system call per request was the largest single cost of a cached list page.
// Every other line is written at once, after whatever access lines are
// pending, so the stream keeps the order lines were logged in and a warning or
// an error is never held back.
type logOutput struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	done chan struct{}
	wg   sync.WaitGroup
}

// maxBuffered is how much access log may wait before it is written anyway.
const maxBuffered = 64 << 10

func newLogOutput(w io.Writer, flushEvery time.Duration) *logOutput {
	o := &logOutput{w: w, done: make(chan struct{})}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		t := time.NewTicker(flushEvery)
		defer t.Stop()
		for {
			select {
			case <-o.done:
				return
			case <-t.C:
				o.Flush()
			}
		}
	}()
	return o
}

// Direct is the writer of lines written at once.
func (o *logOutput) Direct() io.Writer { return directWriter{o} }

// Buffered is the writer of access log lines.
func (o *logOutput) Buffered() io.Writer { return bufferedWriter{o} }

// Flush writes the pending lines.
func (o *logOutput) Flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
}

// Close writes the pending lines and stops the timer; later lines go out at once.
func (o *logOutput) Close() {
	select {
	case <-o.done:
	default:
		close(o.done)
	}
	o.wg.Wait()
	o.Flush()
}

func (o *logOutput) flushLocked() {
	if len(o.buf) > 0 {
		_, _ = o.w.Write(o.buf)
		o.buf = o.buf[:0]
	}
}

type directWriter struct{ o *logOutput }

func (d directWriter) Write(p []byte) (int, error) {
	d.o.mu.Lock()
	defer d.o.mu.Unlock()
	d.o.flushLocked()
	return d.o.w.Write(p)
}

type bufferedWriter struct{ o *logOutput }

func (b bufferedWriter) Write(p []byte) (int, error) {
	b.o.mu.Lock()
	defer b.o.mu.Unlock()
	select {
	case <-b.o.done: // closed: nothing flushes later
		b.o.flushLocked()
		return b.o.w.Write(p)
	default:
	}
	b.o.buf = append(b.o.buf, p...)
	if len(b.o.buf) >= maxBuffered {
		b.o.flushLocked()
	}
	return len(p), nil
}

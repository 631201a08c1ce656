package main

import (
	"strings"
	"testing"
	"time"
)

func TestLogOutput_KeepsOrderAndHoldsOnlyAccessLines(t *testing.T) {
	var sink lockedBuffer
	o := newLogOutput(&sink, time.Hour) // no timer flush during the test
	defer o.Close()
	o.Buffered().Write([]byte("request 1\n"))
	o.Buffered().Write([]byte("request 2\n"))
	if got := sink.String(); got != "" {
		t.Fatalf("access lines were written at once: %q", got)
	}
	o.Direct().Write([]byte("warning\n"))
	if got, want := sink.String(), "request 1\nrequest 2\nwarning\n"; got != want {
		t.Fatalf("got %q, want %q (a direct line goes out after the pending ones)", got, want)
	}
	o.Buffered().Write([]byte("request 3\n"))
	o.Flush()
	if !strings.HasSuffix(sink.String(), "warning\nrequest 3\n") {
		t.Fatalf("flush: %q", sink.String())
	}
}

func TestLogOutput_BoundsWhatWaits(t *testing.T) {
	var sink lockedBuffer
	o := newLogOutput(&sink, time.Hour)
	defer o.Close()
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for i := 0; i < maxBuffered/len(line); i++ {
		o.Buffered().Write(line)
	}
	if n := len(sink.String()); n != maxBuffered {
		t.Fatalf("%d bytes written once %d waited, want all of them", n, maxBuffered)
	}
}

func TestLogOutput_TimerAndCloseFlush(t *testing.T) {
	var sink lockedBuffer
	o := newLogOutput(&sink, 5*time.Millisecond)
	o.Buffered().Write([]byte("request\n"))
	for deadline := time.Now().Add(10 * time.Second); sink.String() == "" && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
	}
	if sink.String() != "request\n" {
		t.Fatalf("the timer did not flush: %q", sink.String())
	}
	o.Buffered().Write([]byte("last\n"))
	o.Close()
	if !strings.HasSuffix(sink.String(), "last\n") {
		t.Fatalf("close did not flush: %q", sink.String())
	}
	o.Buffered().Write([]byte("after\n"))
	if !strings.HasSuffix(sink.String(), "after\n") {
		t.Fatalf("a line after close waited: %q", sink.String())
	}
}

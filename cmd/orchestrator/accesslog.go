package main

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// accessHandler writes the access log's lines (one per request). slog's own
// handlers cost more than the rest of a cached list page's handling; this one
// formats a record itself when its message, keys and string values are plain
// (printable ASCII with nothing to quote or escape, the common case: ids,
// methods, routes, addresses), byte for byte as slog's handler for the format
// would (accesslog_test.go compares them), and hands any other record to that
// handler.
type accessHandler struct {
	json bool
	w    io.Writer
	std  slog.Handler
	mu   sync.Mutex // one Write per line, as slog's handlers
	bufs sync.Pool
}

func newAccessHandler(format string, w io.Writer) *accessHandler {
	h := &accessHandler{json: format == "json", w: w}
	if h.json {
		h.std = slog.NewJSONHandler(w, nil)
	} else {
		h.std = slog.NewTextHandler(w, nil)
	}
	h.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	return h
}

func (h *accessHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.std.Enabled(ctx, l) }
func (h *accessHandler) WithAttrs(as []slog.Attr) slog.Handler          { return h.std.WithAttrs(as) }
func (h *accessHandler) WithGroup(name string) slog.Handler             { return h.std.WithGroup(name) }

func (h *accessHandler) Handle(ctx context.Context, r slog.Record) error {
	bp := h.bufs.Get().(*[]byte)
	defer h.bufs.Put(bp)
	buf, ok := h.format((*bp)[:0], r)
	if !ok {
		return h.std.Handle(ctx, r)
	}
	*bp = buf
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(buf)
	return err
}

// format appends the record's line to b; false when a part is not plain.
func (h *accessHandler) format(b []byte, r slog.Record) ([]byte, bool) {
	if r.Time.IsZero() || r.Time.Year() >= 10000 || !plain(r.Message) {
		return b, false
	}
	if h.json {
		b = append(b, `{"time":"`...)
		b = r.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"`...)
		b = append(b, r.Level.String()...)
		b = append(b, `","msg":"`...)
		b = append(b, r.Message...)
		b = append(b, '"')
	} else {
		b = append(b, "time="...)
		b = appendRFC3339Millis(b, r.Time)
		b = append(b, " level="...)
		b = append(b, r.Level.String()...)
		b = append(b, " msg="...)
		b = append(b, r.Message...)
	}
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		if !plain(a.Key) {
			ok = false
			return false
		}
		v := a.Value.Resolve()
		if h.json {
			b = append(b, `,"`...)
			b = append(b, a.Key...)
			b = append(b, `":`...)
		} else {
			b = append(b, ' ')
			b = append(b, a.Key...)
			b = append(b, '=')
		}
		switch v.Kind() {
		case slog.KindString:
			s := v.String()
			if !plain(s) {
				ok = false
				return false
			}
			if h.json {
				b = append(b, '"')
				b = append(b, s...)
				b = append(b, '"')
			} else {
				b = append(b, s...)
			}
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindDuration:
			if h.json {
				b = strconv.AppendInt(b, int64(v.Duration()), 10)
			} else {
				b = append(b, v.Duration().String()...)
			}
		default:
			ok = false
			return false
		}
		return true
	})
	if !ok {
		return b, false
	}
	if h.json {
		b = append(b, '}')
	}
	return append(b, '\n'), true
}

// plain reports whether s is printed as is by both slog handlers: printable
// ASCII without quotes, backslashes, '=' or the characters JSON encoders
// escape for HTML.
func plain(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c >= 0x7f, c == '"', c == '\\', c == '=', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// appendRFC3339Millis is how slog's text handler writes times: RFC 3339 with
// exactly three digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

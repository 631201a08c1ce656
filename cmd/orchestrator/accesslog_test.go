package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// The access handler's lines are the ones slog's own handlers write, for
// plain records it formats and for the others it hands over.
func TestAccessHandler_WritesWhatSlogWrites(t *testing.T) {
	at := []time.Time{
		time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC),
		time.Date(2031, 3, 4, 5, 6, 7, 120_000_000, time.UTC),
		time.Date(2031, 3, 4, 5, 6, 7, 123_456_789, time.FixedZone("CET", 3600)),
		time.Date(2031, 3, 4, 5, 6, 7, 999_999_999, time.UTC),
	}
	records := map[string][]slog.Attr{
		"plain request": {slog.String("request_id", "3f2a9c1e5b7d4e8a"), slog.String("method", "GET"),
			slog.String("path", "/api/v1/deployments"), slog.Int("status", 200), slog.Duration("duration", 532066*time.Nanosecond),
			slog.String("remote", "127.0.0.1"), slog.String("user", "864634af-3baf-4577-bf70-3e719fcaff8f"), slog.String("route", "/api/v1/deployments/:id")},
		"whole seconds":    {slog.Duration("duration", 3*time.Second), slog.Int("status", -1)},
		"space in a path":  {slog.String("path", "/api/v1/a b")},
		"quote in a path":  {slog.String("path", `/api/"x"`)},
		"html in a path":   {slog.String("path", "/a<b>&c")},
		"unicode in path":  {slog.String("path", "/déploiement")},
		"equals in a path": {slog.String("path", "/a=b")},
		"empty value":      {slog.String("user", "")},
		"backslash":        {slog.String("path", `/a\b`)},
		"control char":     {slog.String("path", "/a\x01b")},
		"a bool":           {slog.Bool("cached", true)},
		"a group":          {slog.Group("g", slog.String("k", "v"))},
	}
	for _, format := range []string{"json", "text"} {
		for name, attrs := range records {
			for _, when := range at {
				r := slog.NewRecord(when, slog.LevelInfo, "request", 0)
				r.AddAttrs(attrs...)
				var got, want bytes.Buffer
				if err := newAccessHandler(format, &got).Handle(context.Background(), r); err != nil {
					t.Fatal(err)
				}
				var std slog.Handler = slog.NewTextHandler(&want, nil)
				if format == "json" {
					std = slog.NewJSONHandler(&want, nil)
				}
				if err := std.Handle(context.Background(), r); err != nil {
					t.Fatal(err)
				}
				if got.String() != want.String() {
					t.Errorf("%s, %s, %s:\n got %q\nwant %q", format, name, when, got.String(), want.String())
				}
			}
		}
	}
}

func BenchmarkAccessHandler(b *testing.B) {
	for _, impl := range []string{"access", "slog"} {
		b.Run(impl, func(b *testing.B) {
			var h slog.Handler = newAccessHandler("json", io.Discard)
			if impl == "slog" {
				h = slog.NewJSONHandler(io.Discard, nil)
			}
			log := slog.New(h)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				log.LogAttrs(context.Background(), slog.LevelInfo, "request", slog.String("request_id", "3f2a9c1e5b7d4e8a"),
					slog.String("method", "GET"), slog.String("path", "/api/v1/deployments"), slog.Int("status", 200),
					slog.Duration("duration", 532066*time.Nanosecond), slog.String("remote", "127.0.0.1"),
					slog.String("user", "864634af-3baf-4577-bf70-3e719fcaff8f"), slog.String("route", "/api/v1/deployments"))
			}
		})
	}
}

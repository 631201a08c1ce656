package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
)

const requestIDHeader = "X-Request-ID"

// validRequestID accepts client-sent ids that are safe to echo and log.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestIDs gives every request an id, echoed in the response and every log line.
func (s *Server) requestIDs(c *fiber.Ctx) error {
	id := c.Get(requestIDHeader)
	if !validRequestID.MatchString(id) {
		// Unique, not secret: the fast generator is enough.
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], rand.Uint64())
		id = hex.EncodeToString(b[:])
	}
	c.Locals("request_id", id)
	c.Set(requestIDHeader, id)
	return c.Next()
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals("request_id").(string)
	return id
}

// accessLog writes one structured line per request. It never logs bodies,
// headers or query strings: they may carry passwords and tokens.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		// Render now so the logged status is the one the client gets.
		if herr := s.app.Config().ErrorHandler(c, err); herr != nil {
			return herr
		}
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String("request_id", requestID(c)), slog.String("method", c.Method()), slog.String("path", c.Path()),
		slog.Int("status", c.Response().StatusCode()), slog.Duration("duration", time.Since(start)),
		slog.String("remote", s.clientIP(c)))
	if p := principalOf(c); p != nil && p.User != nil {
		attrs = append(attrs, slog.String("user", p.User.ID))
	}
	if route := c.Route(); route != nil {
		attrs = append(attrs, slog.String("route", route.Path))
	}
	// The record goes to the handler directly: Logger.LogAttrs would also walk
	// the stack for a source position the access log never prints.
	if h := s.access.Handler(); h.Enabled(context.Background(), slog.LevelInfo) {
		r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
		r.AddAttrs(attrs...)
		_ = h.Handle(context.Background(), r)
	}
	return nil
}

// recoverPanics turns a panic into a 500 with the usual error body; the stack goes
// to the log only.
func (s *Server) recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic", slog.String("request_id", requestID(c)), slog.String("panic", fmt.Sprint(r)),
				slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return c.Next()
}

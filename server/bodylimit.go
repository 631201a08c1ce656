package server

import (
	"io"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
)

const (
	// maxRequestBody bounds every request body; routes have tighter limits of
	// their own (JSON 1 MiB, pictures 1 MiB).
	maxRequestBody = 4 << 20
	// maxDrain is how much of an oversized body is read and thrown away so that
	// the client, still sending, gets to read the 413; past it the connection is
	// closed.
	maxDrain = 64 << 20
)

// limitBody reads the streamed request body up to maxRequestBody. Over it, the
// rest is drained (up to maxDrain) and the answer is a JSON 413, so a client
// that sent 10 MB reads an error instead of a connection reset.
func (s *Server) limitBody(c *fiber.Ctx) error {
	stream := c.Context().RequestBodyStream()
	if stream == nil {
		return c.Next()
	}
	declared := c.Request().Header.ContentLength()
	tooLarge := func() error {
		if declared > maxDrain {
			c.Set(fiber.HeaderConnection, "close")
		} else if n, _ := io.CopyN(io.Discard, stream, maxDrain); n >= maxDrain {
			c.Set(fiber.HeaderConnection, "close")
		}
		c.Request().SetBody(nil)
		return store.Errorf(store.ETooLarge, "request body is over the limit of %d bytes (4 MiB)", maxRequestBody)
	}
	if declared > maxRequestBody {
		return tooLarge()
	}
	data, err := io.ReadAll(io.LimitReader(stream, maxRequestBody+1))
	if err != nil {
		return badRequest("could not read the request body: %s", err.Error())
	}
	if len(data) > maxRequestBody {
		return tooLarge()
	}
	c.Request().SetBody(data)
	return c.Next()
}

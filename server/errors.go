package server

import (
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
)

// statusOf maps the service's error vocabulary to HTTP, in exactly one place.
var statusOf = map[store.Code]int{
	store.ENotFound:     fiber.StatusNotFound,
	store.EConflict:     fiber.StatusConflict,
	store.EInvalid:      fiber.StatusUnprocessableEntity,
	store.EBadRequest:   fiber.StatusBadRequest,
	store.EUnauthorized: fiber.StatusUnauthorized,
	store.EForbidden:    fiber.StatusForbidden,
	store.ETooLarge:     fiber.StatusRequestEntityTooLarge,
	store.ERateLimited:  fiber.StatusTooManyRequests,
	store.EInternal:     fiber.StatusInternalServerError,
}

// codeOf maps the errors Fiber raises itself (unknown route, body too large) back
// to our vocabulary.
var codeOf = map[int]store.Code{
	fiber.StatusNotFound:              store.ENotFound,
	fiber.StatusMethodNotAllowed:      store.ENotFound,
	fiber.StatusRequestEntityTooLarge: store.ETooLarge,
	fiber.StatusBadRequest:            store.EBadRequest,
	fiber.StatusUnauthorized:          store.EUnauthorized,
	fiber.StatusForbidden:             store.EForbidden,
	fiber.StatusConflict:              store.EConflict,
	fiber.StatusUnprocessableEntity:   store.EInvalid,
	fiber.StatusTooManyRequests:       store.ERateLimited,
	fiber.StatusRequestTimeout:        store.EBadRequest,
}

// ErrorBody is the JSON every failed request returns.
type ErrorBody struct {
	Error ErrorPayload `json:"error"`
}

// ErrorPayload says what went wrong and where.
type ErrorPayload struct {
	Code      store.Code     `json:"code"`
	Message   string         `json:"message"`
	Details   []store.Detail `json:"details"`
	RequestID string         `json:"request_id,omitempty"`
}

// handleError renders any error a handler returns. Internal errors are logged with
// the request id and shown to the client without their text, which may hold paths.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	payload := ErrorPayload{Code: store.EInternal, Message: "internal error", Details: []store.Detail{}, RequestID: requestID(c)}
	var se *store.Error
	var fe *fiber.Error
	switch {
	case errors.As(err, &se):
		payload.Code, payload.Message = se.Code, se.Message
		if se.Details != nil {
			payload.Details = se.Details
		}
	case errors.As(err, &fe):
		code, ok := codeOf[fe.Code]
		if !ok {
			code = store.EBadRequest
			if fe.Code >= 500 {
				code = store.EInternal
			}
		}
		payload.Code, payload.Message = code, fe.Message
	}
	status := statusOf[payload.Code]
	if status == 0 {
		status = fiber.StatusInternalServerError
	}
	if status >= 500 {
		s.log.Error("request failed", slog.String("request_id", payload.RequestID), slog.String("method", c.Method()),
			slog.String("path", c.Path()), slog.String("error", err.Error()))
	}
	if underIndigo(c.Path()) {
		return renderIndigoError(c, status, payload)
	}
	return c.Status(status).JSON(ErrorBody{Error: payload})
}

func badRequest(format string, args ...any) error {
	return store.Errorf(store.EBadRequest, format, args...)
}

func invalid(field, format string, args ...any) error {
	e := store.Errorf(store.EInvalid, format, args...)
	return e.WithDetails(store.Detail{Field: field, Message: e.Message})
}

package store

import (
	"errors"
	"fmt"
)

// Code is one word of the service's error vocabulary. The server maps each code to an
// HTTP status in exactly one place; everything below it only picks a code.
type Code string

// The error vocabulary shared by every package of the service.
const (
	ENotFound     Code = "not_found"
	EConflict     Code = "conflict"
	EInvalid      Code = "invalid"     // well-formed request with bad values (422)
	EBadRequest   Code = "bad_request" // malformed request: JSON syntax, unknown query parameters (400)
	EUnauthorized Code = "unauthorized"
	EForbidden    Code = "forbidden"
	ETooLarge     Code = "too_large"
	ERateLimited  Code = "rate_limited"
	EInternal     Code = "internal"
)

// Detail points at the part of a request an error is about: a JSON field path
// ("inputs.num_cpus"), or a position in a TOSCA file.
type Detail struct {
	Field   string `json:"field,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
	// Extra carries structured context, such as the current status of a deployment
	// when a status change is refused.
	Extra map[string]any `json:"extra,omitempty"`
}

// Error is an error the service can show to a client as it is.
type Error struct {
	Code    Code
	Message string
	Details []Detail
	// cause is a sentinel the error also is (ErrLeaseLost), for errors.Is.
	cause error
}

// Unwrap returns the sentinel the error also is, if any.
func (e *Error) Unwrap() error { return e.cause }

func (e *Error) Error() string {
	if len(e.Details) == 0 {
		return e.Message
	}
	return fmt.Sprintf("%s (%d details)", e.Message, len(e.Details))
}

// Errorf builds an Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetails returns the error with details appended.
func (e *Error) WithDetails(d ...Detail) *Error {
	e.Details = append(e.Details, d...)
	return e
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal otherwise.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the client-safe message of err: the *Error's message, or a
// generic one for internal errors whose text may hold paths or SQL.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// IsNotFound reports whether err says something does not exist.
func IsNotFound(err error) bool { return ErrorCode(err) == ENotFound }

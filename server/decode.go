package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
)

// maxJSONBody bounds every JSON request body (templates included).
const maxJSONBody = 1 << 20

// decodeJSON reads the request body into v strictly: malformed JSON is 400, a
// value of the wrong type or an unknown field is 422 naming the field path, a
// body over maxJSONBody is 413.
func decodeJSON(c *fiber.Ctx, v any) error {
	return decodeBody(c, v, true)
}

// decodeJSONIgnoringUnknown is decodeJSON for compatibility routes, whose
// clients send fields this service has no use for (INDIGO's orpy sends a
// misspelt "keepLastAttemp", the INFN dashboard timeouts): unknown fields are
// ignored, everything else is checked the same way.
func decodeJSONIgnoringUnknown(c *fiber.Ctx, v any) error {
	return decodeBody(c, v, false)
}

func decodeBody(c *fiber.Ctx, v any, strict bool) error {
	body := c.Body()
	if len(body) > maxJSONBody {
		return store.Errorf(store.ETooLarge, "request body is %d bytes, the limit is %d", len(body), maxJSONBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("request body is empty; send a JSON object")
	}
	// The body is read as JSON whatever Content-Type says (curl sends form-urlencoded
	// by default); only multipart bodies, which cannot be JSON, are refused.
	if ct := string(c.Request().Header.ContentType()); strings.HasPrefix(ct, "multipart/") {
		return store.Errorf(store.EBadRequest, "this route takes a JSON body, not %s", ct)
	}
	return decode(body, v, strict)
}

func decode(body []byte, v any, strict bool) error {
	// Syntax first: a malformed body is 400 whatever its fields say.
	if !json.Valid(body) {
		var probe any
		return jsonError(json.Unmarshal(body, &probe))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("malformed JSON: unexpected data after the JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest("malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("malformed JSON: unexpected end of input")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return invalid("", "the request body must be a JSON %s", jsonKind(typ.Type.Kind().String()))
		}
		return invalid(field, "%s: expected %s, got %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(name, "unknown field %q", name)
	}
	return invalid("", "invalid JSON body: %s", err.Error())
}

// jsonKind names a Go kind the way a JSON user thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int64", "int32", "uint", "uint64", "float64", "float32":
		return "a number"
	}
	return fmt.Sprintf("a %s", kind)
}

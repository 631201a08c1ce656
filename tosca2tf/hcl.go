package tosca2tf

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Template text never becomes Terraform syntax: every string from a template or
// an input is either a Terraform variable value (terraform.tfvars.json) or a
// literal escaped here. Terraform's JSON syntax reads "${" and "%{" in strings as
// template sequences; doubling them ("$${", "%%{") makes them plain text.

// escapeTemplate makes s a literal in a Terraform JSON string.
func escapeTemplate(s string) string {
	s = strings.ReplaceAll(s, "${", "$${")
	return strings.ReplaceAll(s, "%{", "%%{")
}

// escapeLiterals applies escapeTemplate to every string (and map key) in a value.
func escapeLiterals(v any) any {
	switch t := v.(type) {
	case string:
		return escapeTemplate(t)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = escapeLiterals(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[escapeTemplate(k)] = escapeLiterals(x)
		}
		return out
	}
	return v
}

// hclString quotes s as an HCL string literal inside an expression: quotes,
// backslashes and control characters are escaped, and template sequences are
// doubled so the literal is never evaluated.
func hclString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '$', '%':
			b.WriteRune(r)
			if i+1 < len(s) && s[i+1] == '{' {
				b.WriteRune(r)
			}
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// hclLiteral renders a plain value as an HCL expression.
func hclLiteral(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return hclString(t)
	case bool:
		return strconv.FormatBool(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case int:
		return strconv.Itoa(t)
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return "null"
		}
		return strconv.FormatFloat(t, 'g', -1, 64)
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = hclLiteral(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = hclString(k) + " = " + hclLiteral(t[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return hclLiteral(jsonish(v))
}

// reservedIdents cannot be Terraform variable or module names.
var reservedIdents = map[string]bool{
	"source": true, "version": true, "providers": true, "count": true, "for_each": true, "lifecycle": true,
	"depends_on": true, "locals": true,
}

// identifiers hands out Terraform identifiers for TOSCA names: invalid characters
// become "_", and clashes get a numeric suffix, deterministically in call order.
type identifiers struct {
	used map[string]string // identifier -> name it was given to
	of   map[string]string // name -> identifier
}

func newIdentifiers() *identifiers {
	return &identifiers{used: map[string]string{}, of: map[string]string{}}
}

func (ids *identifiers) get(name, prefix string) string {
	if id, ok := ids.of[name]; ok {
		return id
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	id := b.String()
	if id == "" || (id[0] >= '0' && id[0] <= '9') || id[0] == '-' || reservedIdents[id] || strings.HasPrefix(id, "orc_") {
		id = prefix + id
	}
	base := id
	for n := 2; ; n++ {
		if _, taken := ids.used[id]; !taken {
			break
		}
		id = fmt.Sprintf("%s_%d", base, n)
	}
	ids.used[id] = name
	ids.of[name] = id
	return id
}

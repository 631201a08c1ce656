package tosca2tf

import (
	"encoding/json"
	"fmt"
	"sort"
)

// InputInfo describes a template input for the catalog API.
type InputInfo struct {
	Name        string        `json:"name"`
	Type        string        `json:"type"`
	EntrySchema string        `json:"entry_schema,omitempty"`
	Description string        `json:"description,omitempty"`
	Required    bool          `json:"required"`
	Default     any           `json:"default,omitempty"`
	Constraints []*Constraint `json:"constraints"`
}

// DescribeInputs lists a template's inputs in declaration order.
func DescribeInputs(t *Template) []InputInfo {
	out := []InputInfo{}
	for _, in := range t.Inputs {
		info := InputInfo{Name: in.Name, Type: in.Schema.Type, Description: in.Description, Required: in.Required,
			Constraints: in.Schema.Constraints}
		if info.Constraints == nil {
			info.Constraints = []*Constraint{}
		}
		if in.Schema.EntrySchema != nil {
			info.EntrySchema = in.Schema.EntrySchema.Type
		}
		if in.HasDefault {
			info.Default = jsonish(in.Default)
		}
		out = append(out, info)
	}
	return out
}

// CheckInputs checks deployment input values against a template: every value must
// name an input, have its type and meet its constraints, and every required input
// without default must be given. It returns the normalized values of all inputs
// (defaults filled in), or Errors with one entry per bad input (Field
// "inputs.<name>").
func CheckInputs(t *Template, values map[string]any) (map[string]any, error) {
	vc := valueChecker{reg: t.Types}
	var errs Errors
	out := map[string]any{}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in := t.inputs[k]
		if in == nil {
			errs = append(errs, &Error{Kind: KindUnknownName, Field: "inputs." + k, Message: fmt.Sprintf("the template has no input %q", k)})
			continue
		}
		if values[k] == nil {
			continue // null means "use the default"
		}
		v, err := vc.check(values[k], &in.Schema, "")
		if err != nil {
			errs = append(errs, &Error{Pos: in.Pos, Kind: KindConstraint, Field: "inputs." + k, Message: fmt.Sprintf("input %q: %s", k, err.Error())})
			continue
		}
		out[k] = v
	}
	for _, in := range t.Inputs {
		if _, ok := out[in.Name]; ok {
			continue
		}
		switch {
		case in.HasDefault:
			out[in.Name] = in.Default
		case in.Required:
			if _, bad := values[in.Name]; !bad || values[in.Name] == nil {
				errs = append(errs, &Error{Pos: in.Pos, Kind: KindMissing, Field: "inputs." + in.Name,
					Message: fmt.Sprintf("input %q is required (%s)", in.Name, in.Schema.Type)})
			}
		default:
			out[in.Name] = nil
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// tfvarValue is how a normalized input value is written to terraform.tfvars.json:
// scalar units as numbers in their base unit (bytes, seconds, hertz, bits/s).
func tfvarValue(v any) any {
	switch t := v.(type) {
	case ScalarUnit:
		if t.Base.IsInt() && t.Base.Num().IsInt64() {
			return t.Base.Num().Int64()
		}
		f, _ := t.Base.Float64()
		return f
	case Version:
		return t.Text
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = tfvarValue(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = tfvarValue(x)
		}
		return out
	case json.Number:
		return t
	}
	return v
}

// tfType is the Terraform type of a TOSCA input.
func tfType(s *Schema, reg *Registry) string {
	switch s.Type {
	case tString, tTimestamp, tVersion:
		return "string"
	case tInteger, tFloat, tSize, tTime, tFrequency, tBitrate:
		return "number"
	case tBoolean:
		return "bool"
	// A list or map of values of no single Terraform type (data types, maps of
	// different keys) is "any": list(any) would demand one element type and
	// refuse [{a, b}, {a}].
	case tList:
		if s.EntrySchema != nil {
			if e := tfType(s.EntrySchema, reg); e != "any" {
				return "list(" + e + ")"
			}
		}
		return "any"
	case tMap:
		if s.EntrySchema != nil {
			if e := tfType(s.EntrySchema, reg); e != "any" {
				return "map(" + e + ")"
			}
		}
		return "any"
	case tRange:
		return "list(any)"
	}
	if dt := reg.Lookup(DataType, s.Type); dt != nil {
		chain := reg.ancestry(DataType, dt.Name)
		if root := chain[len(chain)-1]; primitives[root.DerivedFrom] {
			return tfType(&Schema{Type: root.DerivedFrom, EntrySchema: root.EntrySchema}, reg)
		}
	}
	return "any"
}

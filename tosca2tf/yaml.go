package tosca2tf

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// entry is one key of a YAML mapping with both nodes, for positions.
type entry struct {
	Key   string
	KeyN  *yaml.Node
	Value *yaml.Node
}

func posOf(file string, n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: file}
	}
	return Pos{File: file, Line: n.Line, Column: n.Column}
}

// resolveAlias follows YAML aliases (&anchor / *alias) to the anchored node.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolveAlias(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// entries reads a mapping; null is an empty mapping. Merge keys (<<) are expanded.
func entries(n *yaml.Node) ([]entry, bool) {
	n = resolveAlias(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		return nil, false
	}
	var out []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" || k.Value == "<<" {
			if merged, ok := entries(v); ok {
				out = append(out, merged...)
			}
			continue
		}
		out = append(out, entry{Key: k.Value, KeyN: k, Value: v})
	}
	return out, true
}

// items reads a sequence; null is empty.
func items(n *yaml.Node) ([]*yaml.Node, bool) {
	n = resolveAlias(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		return nil, false
	}
	return n.Content, true
}

// scalarString returns a scalar as text (numbers and booleans as written).
func scalarString(n *yaml.Node) (string, bool) {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// plain converts a YAML node to plain Go values: string, int64, float64, bool,
// nil, []any, map[string]any.
func plain(n *yaml.Node) (any, error) {
	n = resolveAlias(n)
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return scalarValue(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := plain(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := map[string]any{}
		es, _ := entries(n)
		for _, e := range es {
			v, err := plain(e.Value)
			if err != nil {
				return nil, err
			}
			out[e.Key] = v
		}
		return out, nil
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return plain(n.Content[0])
		}
	}
	return nil, nil
}

func scalarValue(n *yaml.Node) (any, error) {
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err != nil {
			return n.Value, nil
		}
		return b, nil
	case "!!int":
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(n.Value, 64)
			if ferr != nil {
				return nil, fmt.Errorf("integer %q out of range", n.Value)
			}
			return f, nil
		}
		return i, nil
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil {
			switch strings.ToLower(n.Value) {
			case ".inf", "+.inf":
				return math.Inf(1), nil
			case "-.inf":
				return math.Inf(-1), nil
			case ".nan":
				return math.NaN(), nil
			}
			return nil, fmt.Errorf("bad float %q", n.Value)
		}
		return f, nil
	}
	return n.Value, nil
}

// yamlBool reads booleans the YAML 1.1 way too (yes/no/on/off), as TOSCA
// templates written for YAML 1.1 parsers use them.
func yamlBool(n *yaml.Node) (bool, bool) {
	s, ok := scalarString(n)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on", "y":
		return true, true
	case "false", "no", "off", "n":
		return false, true
	}
	return false, false
}

// maxExpandedNodes bounds a document with its aliases expanded: YAML aliases can
// make a few lines stand for billions of values ("billion laughs"), and every
// walker here expands them.
const maxExpandedNodes = 200000

// checkExpansion counts the nodes a document stands for once its aliases are
// expanded, in time linear in its real size, and refuses recursive aliases and
// documents that expand past maxExpandedNodes.
func checkExpansion(root *yaml.Node) error {
	sizes := map[*yaml.Node]int{}
	visiting := map[*yaml.Node]bool{}
	var size func(n *yaml.Node) (int, error)
	size = func(n *yaml.Node) (int, error) {
		if n == nil {
			return 0, nil
		}
		if s, ok := sizes[n]; ok {
			return s, nil
		}
		if visiting[n] {
			return 0, fmt.Errorf("line %d: an alias refers to a node that contains it", n.Line)
		}
		visiting[n] = true
		defer delete(visiting, n)
		total := 1
		children := n.Content
		if n.Kind == yaml.AliasNode {
			children = []*yaml.Node{n.Alias}
		}
		for _, c := range children {
			s, err := size(c)
			if err != nil {
				return 0, err
			}
			total += s
			if total > maxExpandedNodes {
				return 0, fmt.Errorf("line %d: the document expands to more than %d values through its aliases", n.Line, maxExpandedNodes)
			}
		}
		sizes[n] = total
		return total, nil
	}
	_, err := size(root)
	return err
}

// asWritten returns a literal's text where a string or version is expected: YAML reads
// "version: 18.0" as the number 18 and "20.10" as 20.1, but the author wrote
// the text.
func asWritten(v any, n *yaml.Node, s *Schema) any {
	if s == nil || (s.Type != tString && s.Type != tVersion) || n == nil {
		return v
	}
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!float" || n.Tag == "!!int") {
		return n.Value
	}
	return v
}

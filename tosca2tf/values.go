package tosca2tf

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The primitive types of TOSCA values.
const (
	tString    = "string"
	tInteger   = "integer"
	tFloat     = "float"
	tBoolean   = "boolean"
	tTimestamp = "timestamp"
	tVersion   = "version"
	tRange     = "range"
	tList      = "list"
	tMap       = "map"
	tSize      = "scalar-unit.size"
	tTime      = "scalar-unit.time"
	tFrequency = "scalar-unit.frequency"
	tBitrate   = "scalar-unit.bitrate"
	tJSON      = "tosca.datatypes.json"
	tXML       = "tosca.datatypes.xml"
	tAny       = "any" // used by orchestrator internally, never in templates
)

var primitives = map[string]bool{tString: true, tInteger: true, tFloat: true, tBoolean: true, tTimestamp: true,
	tVersion: true, tRange: true, tList: true, tMap: true, tSize: true, tTime: true, tFrequency: true, tBitrate: true}

// scalarUnits maps each scalar-unit type's units (lower-cased) to their factor in
// the base unit (bytes, seconds, hertz, bits per second).
var scalarUnits = map[string]map[string]*big.Rat{
	tSize: {
		"b": rat(1), "kb": rat(1e3), "kib": rat(1 << 10), "mb": rat(1e6), "mib": rat(1 << 20),
		"gb": rat(1e9), "gib": rat(1 << 30), "tb": rat(1e12), "tib": rat(1 << 40),
	},
	tTime: {
		"d": rat(86400), "h": rat(3600), "m": rat(60), "s": rat(1),
		"ms": big.NewRat(1, 1e3), "us": big.NewRat(1, 1e6), "ns": big.NewRat(1, 1e9),
	},
	tFrequency: {"hz": rat(1), "khz": rat(1e3), "mhz": rat(1e6), "ghz": rat(1e9)},
	tBitrate: {
		"bps": rat(1), "kbps": rat(1e3), "kibps": rat(1 << 10), "mbps": rat(1e6), "mibps": rat(1 << 20),
		"gbps": rat(1e9), "gibps": rat(1 << 30), "tbps": rat(1e12), "tibps": rat(1 << 40),
	},
}

func rat(n int64) *big.Rat { return new(big.Rat).SetInt64(n) }

// ScalarUnit is a quantity with a unit, kept exactly in its base unit.
type ScalarUnit struct {
	Base *big.Rat // in bytes, seconds, hertz or bits per second
	Text string   // as written, e.g. "4 GB"
}

// Float is the base value as a float64 (exact for whole numbers below 2^53).
func (s ScalarUnit) Float() float64 {
	f, _ := s.Base.Float64()
	return f
}

// In returns the value in a unit of the same kind, rounded up to a whole number:
// a "4 GB" memory request is 3815 MiB, never less than asked.
func (s ScalarUnit) In(kind, unit string) int64 {
	factor := scalarUnits[kind][strings.ToLower(unit)]
	q := new(big.Rat).Quo(s.Base, factor)
	n := new(big.Int).Quo(q.Num(), q.Denom())
	if new(big.Rat).SetInt(n).Cmp(q) < 0 {
		n.Add(n, big.NewInt(1))
	}
	return n.Int64()
}

// CloudGB is a disk or volume size in the unit clouds use, rounded up: clouds
// size disks in GiB and call them GB, so a size written in decimal units (GB,
// MB, TB) counts in those GB ("20 GB" is 20, "500 MB" is 1, "1 TB" is 1000) and
// one in binary units converts exactly ("20 GiB" is 20, "1 TiB" is 1024). Either
// way the disk is at least as large as asked.
func (s ScalarUnit) CloudGB() int64 {
	unit := "gib"
	if m := scalarRE.FindStringSubmatch(s.Text); m != nil {
		switch strings.ToLower(m[2]) {
		case "kb", "mb", "gb", "tb":
			unit = "gb"
		}
	}
	return s.In(tSize, unit)
}

func (s ScalarUnit) MarshalJSON() ([]byte, error) { return json.Marshal(s.Text) }

var scalarRE = regexp.MustCompile(`^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]+)\s*$`)

func parseScalar(kind, s string) (ScalarUnit, error) {
	m := scalarRE.FindStringSubmatch(s)
	if m == nil {
		return ScalarUnit{}, fmt.Errorf("%q is not a %s (a number and a unit, e.g. %s)", s, kind, scalarExample(kind))
	}
	factor, ok := scalarUnits[kind][strings.ToLower(m[2])]
	if !ok {
		return ScalarUnit{}, fmt.Errorf("%q has an unknown unit %q for %s", s, m[2], kind)
	}
	n, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return ScalarUnit{}, fmt.Errorf("%q is not a number", m[1])
	}
	if n.Sign() < 0 {
		return ScalarUnit{}, fmt.Errorf("%q is negative", s)
	}
	return ScalarUnit{Base: n.Mul(n, factor), Text: strings.TrimSpace(s)}, nil
}

func scalarExample(kind string) string {
	return map[string]string{tSize: "4 GB", tTime: "30 s", tFrequency: "2.4 GHz", tBitrate: "100 Mbps"}[kind]
}

// Version is a TOSCA version: major.minor[.fix[.qualifier[-build]]].
type Version struct {
	Text  string
	parts []int64
	qual  string
	build int64
}

func (v Version) MarshalJSON() ([]byte, error) { return json.Marshal(v.Text) }

var versionRE = regexp.MustCompile(`^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.([A-Za-z0-9_]+)(?:-(\d+))?)?$`)

func parseVersion(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, fmt.Errorf("%q is not a version (major.minor[.fix[.qualifier[-build]]])", s)
	}
	v := Version{Text: strings.TrimSpace(s), qual: m[4]}
	for _, p := range m[1:4] {
		n, _ := strconv.ParseInt(p, 10, 64) // empty parts are 0
		v.parts = append(v.parts, n)
	}
	v.build, _ = strconv.ParseInt(m[5], 10, 64)
	return v, nil
}

func (v Version) compare(o Version) int {
	for i := range v.parts {
		if v.parts[i] != o.parts[i] {
			if v.parts[i] < o.parts[i] {
				return -1
			}
			return 1
		}
	}
	if c := strings.Compare(v.qual, o.qual); c != 0 {
		return c
	}
	switch {
	case v.build < o.build:
		return -1
	case v.build > o.build:
		return 1
	}
	return 0
}

var timestampLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999 -07:00",
	"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02t15:04:05.999999999Z07:00", "2006-01-02"}

// valueChecker checks values against schemas using a registry's data types.
type valueChecker struct {
	reg *Registry
}

// check validates v (plain Go values from YAML or JSON) against a schema and
// returns it normalized: integers as int64, scalar units as ScalarUnit, versions as
// Version. Errors name the path inside the value.
func (vc valueChecker) check(v any, s *Schema, path string) (any, error) {
	out, err := vc.checkType(v, s, path)
	if err != nil {
		return nil, err
	}
	for _, c := range s.Constraints {
		if err := c.check(vc, s, out); err != nil {
			return nil, fmt.Errorf("%s%s", prefix(path), err.Error())
		}
	}
	return out, nil
}

func prefix(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		if len(t) > 60 {
			t = t[:60] + "…"
		}
		return strconv.Quote(t)
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	case bool:
		return strconv.FormatBool(t)
	}
	return fmt.Sprint(v)
}

func (vc valueChecker) checkType(v any, s *Schema, path string) (any, error) {
	bad := func(want string) error {
		return fmt.Errorf("%sexpected %s, got %s", prefix(path), want, describe(v))
	}
	if n, ok := v.(json.Number); ok { // JSON inputs
		if i, err := n.Int64(); err == nil {
			v = i
		} else if f, err := n.Float64(); err == nil {
			v = f
		}
	}
	switch s.Type {
	case tAny, tJSON, tXML, "":
		return v, nil
	case tString:
		switch t := v.(type) {
		case string:
			return t, nil
		case int64, float64, bool:
			// YAML reads `version: 16.04` and `port: 80` as numbers; TOSCA authors
			// mean the text they wrote.
			return scalarText(t), nil
		}
		return nil, bad("a string")
	case tInteger:
		switch t := v.(type) {
		case int64:
			return t, nil
		case int:
			return int64(t), nil
		case float64:
			if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
				return int64(t), nil
			}
		case string:
			if i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
				return i, nil
			}
		}
		return nil, bad("an integer")
	case tFloat:
		switch t := v.(type) {
		case float64:
			return t, nil
		case int64:
			return float64(t), nil
		case int:
			return float64(t), nil
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil {
				return f, nil
			}
		}
		return nil, bad("a number")
	case tBoolean:
		switch t := v.(type) {
		case bool:
			return t, nil
		case string:
			switch strings.ToLower(t) {
			case "true", "yes", "on":
				return true, nil
			case "false", "no", "off":
				return false, nil
			}
		}
		return nil, bad("a boolean")
	case tTimestamp:
		str, ok := v.(string)
		if !ok {
			if t, isTime := v.(time.Time); isTime {
				return t.UTC().Format(time.RFC3339Nano), nil
			}
			return nil, bad("a timestamp")
		}
		for _, layout := range timestampLayouts {
			if _, err := time.Parse(layout, strings.TrimSpace(str)); err == nil {
				return str, nil
			}
		}
		return nil, bad("a timestamp (YAML or RFC 3339)")
	case tVersion:
		switch t := v.(type) {
		case Version:
			return t, nil
		case string, int64, float64:
			ver, err := parseVersion(scalarText(t))
			if err != nil {
				return nil, fmt.Errorf("%s%s", prefix(path), err.Error())
			}
			return ver, nil
		}
		return nil, bad("a version")
	case tSize, tTime, tFrequency, tBitrate:
		if sc, ok := v.(ScalarUnit); ok {
			return sc, nil
		}
		str, ok := v.(string)
		if !ok {
			return nil, bad(fmt.Sprintf("a %s such as %q", s.Type, scalarExample(s.Type)))
		}
		sc, err := parseScalar(s.Type, str)
		if err != nil {
			return nil, fmt.Errorf("%s%s", prefix(path), err.Error())
		}
		return sc, nil
	case tRange:
		list, ok := v.([]any)
		if !ok || len(list) != 2 {
			return nil, bad("a range [min, max]")
		}
		lo, err := vc.checkType(list[0], &Schema{Type: tInteger}, path+"[0]")
		if err != nil {
			return nil, err
		}
		if str, ok := list[1].(string); ok && str == "UNBOUNDED" {
			return []any{lo, "UNBOUNDED"}, nil
		}
		hi, err := vc.checkType(list[1], &Schema{Type: tInteger}, path+"[1]")
		if err != nil {
			return nil, err
		}
		if hi.(int64) < lo.(int64) {
			return nil, fmt.Errorf("%srange [%d, %d] has its bounds reversed", prefix(path), lo, hi)
		}
		return []any{lo, hi}, nil
	case tList:
		list, ok := v.([]any)
		if !ok {
			return nil, bad("a list")
		}
		out := make([]any, len(list))
		for i, item := range list {
			c, err := vc.entry(item, s.EntrySchema, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case tMap:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, bad("a map")
		}
		out := make(map[string]any, len(m))
		for _, k := range names(m) {
			if s.KeySchema != nil {
				if _, err := vc.check(k, s.KeySchema, path+"."+k); err != nil {
					return nil, err
				}
			}
			c, err := vc.entry(m[k], s.EntrySchema, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	}
	return vc.checkData(v, s, path)
}

func (vc valueChecker) entry(v any, s *Schema, path string) (any, error) {
	if s == nil {
		return v, nil
	}
	return vc.check(v, s, path)
}

// checkData checks a value of a declared data type: either derived from a
// primitive (with the type's constraints) or a map of typed properties.
func (vc valueChecker) checkData(v any, s *Schema, path string) (any, error) {
	dt := vc.reg.Lookup(DataType, s.Type)
	if dt == nil {
		return nil, fmt.Errorf("%sunknown data type %q", prefix(path), s.Type)
	}
	chain := vc.reg.ancestry(DataType, dt.Name)
	root := chain[len(chain)-1]
	if primitives[root.DerivedFrom] {
		base := &Schema{Type: root.DerivedFrom, EntrySchema: root.EntrySchema}
		for _, t := range chain {
			if t.EntrySchema != nil && base.EntrySchema == nil {
				base.EntrySchema = t.EntrySchema
			}
			base.Constraints = append(base.Constraints, t.Constraints...)
		}
		return vc.check(v, base, path)
	}
	if root.Name == tJSON || root.Name == tXML || dt.Name == tJSON || dt.Name == tXML {
		return v, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%sexpected a %s (a map), got %s", prefix(path), dt.Name, describe(v))
	}
	props := vc.reg.Properties(DataType, dt.Name)
	out := map[string]any{}
	for _, k := range names(m) {
		p, ok := props[k]
		if !ok {
			return nil, fmt.Errorf("%s%s has no property %q", prefix(path), dt.Name, k)
		}
		if m[k] == nil && !p.Required {
			continue
		}
		c, err := vc.check(m[k], &p.Schema, path+"."+k)
		if err != nil {
			return nil, err
		}
		out[k] = c
	}
	for _, k := range names(props) {
		p := props[k]
		if _, ok := m[k]; ok || !p.Required {
			continue
		}
		if p.Default != nil {
			d, err := plain(p.Default)
			if err == nil {
				if c, err := vc.check(d, &p.Schema, path+"."+k); err == nil {
					out[k] = c
					continue
				}
			}
		}
		return nil, fmt.Errorf("%s%s requires property %q", prefix(path), dt.Name, k)
	}
	return out, nil
}

func scalarText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(t, 10)
	case bool:
		return strconv.FormatBool(t)
	}
	return fmt.Sprint(v)
}

// compare orders two normalized values of the same type.
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmpOrdered(x, y), true
		case float64:
			return cmpOrdered(float64(x), y), true
		}
	case float64:
		switch y := b.(type) {
		case float64:
			return cmpOrdered(x, y), true
		case int64:
			return cmpOrdered(x, float64(y)), true
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case ScalarUnit:
		if y, ok := b.(ScalarUnit); ok {
			return x.Base.Cmp(y.Base), true
		}
	case Version:
		if y, ok := b.(Version); ok {
			return x.compare(y), true
		}
	}
	return 0, false
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func equalValues(a, b any) bool {
	if c, ok := compare(a, b); ok {
		return c == 0
	}
	return reflect.DeepEqual(a, b)
}

// Constraint is one TOSCA constraint clause. Its arguments are kept as written and
// normalized against the constrained value's type when checked ("2 GB" is a size
// only next to a scalar-unit.size).
type Constraint struct {
	Op  string
	Raw []any
	re  *regexp.Regexp
	Pos Pos
}

// constraintOps lists the operators and how many arguments they take (-1: a list).
var constraintOps = map[string]int{
	"equal": 1, "greater_than": 1, "greater_or_equal": 1, "less_than": 1, "less_or_equal": 1,
	"in_range": 2, "valid_values": -1, "length": 1, "min_length": 1, "max_length": 1, "pattern": 1,
	// TOSCA 1.0 spellings and the short 2.0 names some templates already use.
	"eq": 1, "gt": 1, "ge": 1, "lt": 1, "le": 1,
}

var opAlias = map[string]string{"eq": "equal", "gt": "greater_than", "ge": "greater_or_equal", "lt": "less_than", "le": "less_or_equal"}

// MarshalJSON describes the constraint for the API: {"greater_or_equal": 1}.
func (c *Constraint) MarshalJSON() ([]byte, error) {
	var arg any = c.Raw
	if n := constraintOps[c.Op]; n == 1 {
		arg = c.Raw[0]
	}
	return json.Marshal(map[string]any{c.Op: arg})
}

// args normalizes the arguments to the type of the value they constrain.
func (c *Constraint) args(vc valueChecker, s *Schema) ([]any, error) {
	switch c.Op {
	case "length", "min_length", "max_length":
		n, err := vc.checkType(c.Raw[0], &Schema{Type: tInteger}, "")
		return []any{n}, err
	case "pattern":
		return c.Raw, nil
	}
	argSchema := &Schema{Type: s.Type, EntrySchema: s.EntrySchema, KeySchema: s.KeySchema}
	out := make([]any, len(c.Raw))
	for i, raw := range c.Raw {
		v, err := vc.checkType(raw, argSchema, "")
		if err != nil {
			return nil, fmt.Errorf("constraint %s at %s: %w", c.Op, c.Pos, err)
		}
		out[i] = v
	}
	return out, nil
}

// Check validates a normalized value against the constraint. On a range value,
// comparisons apply to both of its bounds (TOSCA: each bound is in range).
func (c *Constraint) check(vc valueChecker, s *Schema, v any) error {
	if bounds, ok := v.([]any); ok && s.Type == tRange && c.Op != "equal" && c.Op != "valid_values" {
		for _, b := range bounds {
			if b == "UNBOUNDED" {
				continue
			}
			if err := c.check(vc, &Schema{Type: tInteger}, b); err != nil {
				return err
			}
		}
		return nil
	}
	args, err := c.args(vc, s)
	if err != nil {
		return err
	}
	c = &Constraint{Op: c.Op, Raw: args, re: c.re, Pos: c.Pos}
	switch c.Op {
	case "equal":
		if !equalValues(v, c.Raw[0]) {
			return fmt.Errorf("%s must equal %s", describe(jsonish(v)), describe(jsonish(c.Raw[0])))
		}
	case "greater_than", "greater_or_equal", "less_than", "less_or_equal":
		cmp, ok := compare(v, c.Raw[0])
		if !ok {
			return fmt.Errorf("%s cannot be compared with %s", describe(jsonish(v)), describe(jsonish(c.Raw[0])))
		}
		okOp := map[string]bool{"greater_than": cmp > 0, "greater_or_equal": cmp >= 0, "less_than": cmp < 0, "less_or_equal": cmp <= 0}[c.Op]
		if !okOp {
			return fmt.Errorf("%s must be %s %s", describe(jsonish(v)), strings.ReplaceAll(c.Op, "_", " "), describe(jsonish(c.Raw[0])))
		}
	case "in_range":
		lo, ok1 := compare(v, c.Raw[0])
		hi, ok2 := compare(v, c.Raw[1])
		if !ok1 || !ok2 || lo < 0 || hi > 0 {
			return fmt.Errorf("%s must be in range [%s, %s]", describe(jsonish(v)), describe(jsonish(c.Raw[0])), describe(jsonish(c.Raw[1])))
		}
	case "valid_values":
		for _, a := range c.Raw {
			if equalValues(v, a) {
				return nil
			}
		}
		vals := make([]string, len(c.Raw))
		for i, a := range c.Raw {
			vals[i] = describe(jsonish(a))
		}
		return fmt.Errorf("%s is not one of [%s]", describe(jsonish(v)), strings.Join(vals, ", "))
	case "length", "min_length", "max_length":
		n, ok := lengthOf(v)
		if !ok {
			return fmt.Errorf("%s has no length", describe(jsonish(v)))
		}
		want := c.Raw[0].(int64)
		if (c.Op == "length" && n != want) || (c.Op == "min_length" && n < want) || (c.Op == "max_length" && n > want) {
			return fmt.Errorf("length %d of %s must be %s %d", n, describe(jsonish(v)),
				map[string]string{"length": "exactly", "min_length": "at least", "max_length": "at most"}[c.Op], want)
		}
	case "pattern":
		s, ok := v.(string)
		if !ok || !c.re.MatchString(s) {
			return fmt.Errorf("%s does not match the pattern %s", describe(jsonish(v)), c.re.String())
		}
	}
	return nil
}

func lengthOf(v any) (int64, bool) {
	switch t := v.(type) {
	case string:
		return int64(len([]rune(t))), true
	case []any:
		return int64(len(t)), true
	case map[string]any:
		return int64(len(t)), true
	}
	return 0, false
}

// jsonish turns normalized values back into plain JSON values for messages and
// for terraform.tfvars.json (scalar units become numbers in their base unit).
func jsonish(v any) any {
	switch t := v.(type) {
	case ScalarUnit:
		return t.Text
	case Version:
		return t.Text
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = jsonish(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = jsonish(x)
		}
		return out
	}
	return v
}

package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// envFlags is a flag set whose flags also read ORCHESTRATOR_<NAME> from the
// environment (flags win over the environment, which wins over defaults).
type envFlags struct {
	*flag.FlagSet
}

func newFlags(name string) *envFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return &envFlags{fs}
}

func envName(flagName string) string {
	return "ORCHESTRATOR_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f *envFlags) String(name, def, usage string) *string {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	return f.FlagSet.String(name, def, usage+" (env "+envName(name)+")")
}

func (f *envFlags) Bool(name string, def bool, usage string) *bool {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		}
	}
	return f.FlagSet.Bool(name, def, usage+" (env "+envName(name)+")")
}

func (f *envFlags) Int(name string, def int, usage string) *int {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		}
	}
	return f.FlagSet.Int(name, def, usage+" (env "+envName(name)+")")
}

// Duration accepts Go durations and day counts ("90d").
func (f *envFlags) Duration(name string, def time.Duration, usage string) *time.Duration {
	d := &durationValue{d: def}
	if v, ok := os.LookupEnv(envName(name)); ok {
		_ = d.Set(v)
	}
	f.FlagSet.Var(d, name, usage+" (env "+envName(name)+")")
	return &d.d
}

// List is a repeatable flag; its environment variable is comma-separated.
func (f *envFlags) List(name, usage string) *[]string {
	l := &listValue{}
	if v, ok := os.LookupEnv(envName(name)); ok && v != "" {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				l.items = append(l.items, part)
			}
		}
		l.fromEnv = true
	}
	f.FlagSet.Var(l, name, usage+" (repeatable; env "+envName(name)+", comma-separated)")
	return &l.items
}

type durationValue struct{ d time.Duration }

func (d *durationValue) String() string { return d.d.String() }

func (d *durationValue) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	d.d = v
	return nil
}

// ParseDuration reads Go durations ("90m") and whole days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

type listValue struct {
	items   []string
	fromEnv bool
}

func (l *listValue) String() string { return strings.Join(l.items, ",") }

func (l *listValue) Set(s string) error {
	if l.fromEnv { // flags replace the environment's list rather than adding to it
		l.items, l.fromEnv = nil, false
	}
	l.items = append(l.items, s)
	return nil
}

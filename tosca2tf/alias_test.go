package tosca2tf

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Alias bombs ("billion laughs") must be refused quickly, not expanded.
func TestAliasBombIsRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("tosca_definitions_version: tosca_simple_yaml_1_3\nmetadata:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	levels := []string{"l0"}
	for i := 1; i <= 9; i++ {
		name := "l" + string(rune('0'+i))
		p := "*" + levels[len(levels)-1]
		b.WriteString("  " + name + ": &" + name + " [" + strings.Repeat(p+", ", 9) + p + "]\n")
		levels = append(levels, name)
	}
	b.WriteString("topology_template:\n  node_templates:\n    a: { type: tosca.nodes.Compute }\n")
	start := time.Now()
	_, err := Parse(context.Background(), Source{Name: "bomb.yaml", Content: []byte(b.String())}, &Resolver{})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("parsing an alias bomb took %s", took)
	}
	if err == nil || !strings.Contains(err.Error(), "alias") {
		t.Fatalf("want an error about aliases, got %v", err)
	}
	// A recursive alias is refused too.
	_, err = Parse(context.Background(), Source{Name: "loop.yaml", Content: []byte("tosca_definitions_version: tosca_simple_yaml_1_3\nmetadata: &m { self: *m }\n")}, &Resolver{})
	if err == nil {
		t.Fatal("a recursive alias was accepted")
	}
}

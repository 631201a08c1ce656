package tosca2tf

import (
	"context"
	_ "embed"
	"fmt"
	"sync"
)

// normativeYAML is our own transcription of the TOSCA Simple Profile's normative
// types (and the non-normative ones real templates use).
//
//go:embed types/normative.yaml
var normativeYAML []byte

var (
	normativeOnce sync.Once
	normative     *Registry
)

// normativeTypes parses the built-in types once. They are part of the binary, so a
// problem in them is a programming error.
func normativeTypes() *Registry {
	normativeOnce.Do(func() {
		p := &parser{ctx: context.Background(), resolver: &Resolver{}, reg: newRegistry(), loaded: map[string]bool{}, repos: map[string]string{}}
		root := p.document("normative.yaml", normativeYAML)
		if root != nil {
			p.readDefinitions(root, "normative.yaml", location{})
		}
		if p.d.failed() {
			panic(fmt.Sprintf("built-in normative types are invalid:\n%s", p.d.errs.Error()))
		}
		for _, m := range p.reg.types {
			for _, t := range m {
				t.builtin = true
			}
		}
		p.reg.indexShortNames()
		normative = p.reg
	})
	return normative
}

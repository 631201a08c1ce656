package configure

import (
	"sort"
	"strings"
)

// Redactor hides secret values (sensitive inputs, keys) in every line that
// reaches the logs, whatever tool printed them.
type Redactor struct{ secrets []string }

// NewRedactor hides each of secrets; values shorter than 4 characters are
// ignored (they would redact ordinary words).
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add hides more values.
func (r *Redactor) Add(secrets ...string) {
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) >= 4 {
			r.secrets = append(r.secrets, s)
			// A multi-line secret (a key) is printed line by line too.
			for _, part := range strings.Split(s, "\n") {
				if part = strings.TrimSpace(part); len(part) >= 12 {
					r.secrets = append(r.secrets, part)
				}
			}
		}
	}
	// Longest first, so a secret containing another is hidden whole.
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// Hide returns s with every secret replaced by "***".
func (r *Redactor) Hide(s string) string {
	if r == nil {
		return s
	}
	for _, secret := range r.secrets {
		if strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, "***")
		}
	}
	return s
}

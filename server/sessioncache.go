package server

import (
	"sync"
	"time"
)

// verifiedSessions remembers session tokens whose signature this process has
// checked, with the claims that still matter afterwards. A session is sent with
// every request of a dashboard or script; parsing and checking the JWT each time
// was most of the cost of a cached list page. The cache is keyed by the whole
// token string: only the exact bytes that passed verification are trusted, and
// the signing key never changes while the process runs. The time checks are
// redone on each use, so a remembered session still expires on time.
type verifiedSessions struct {
	mu      sync.Mutex
	entries map[string]verifiedSession
	max     int
}

type verifiedSession struct {
	subject string
	// notBefore is the later of iat and nbf; expires is exp.
	notBefore, expires time.Time
}

func newVerifiedSessions(max int) *verifiedSessions {
	return &verifiedSessions{entries: map[string]verifiedSession{}, max: max}
}

func (v *verifiedSessions) get(raw string) (verifiedSession, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.entries[raw]
	return e, ok
}

// getBytes is get for a token held as bytes.
func (v *verifiedSessions) getBytes(raw []byte) (verifiedSession, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.entries[string(raw)]
	return e, ok
}

// put remembers a verified session; when full, expired sessions go first, then
// any (a miss only costs one verification).
func (v *verifiedSessions) put(raw string, e verifiedSession, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) >= v.max {
		for k, old := range v.entries {
			if expired, _ := old.valid(now); expired {
				delete(v.entries, k)
			}
		}
		for k := range v.entries {
			if len(v.entries) < v.max*3/4 {
				break
			}
			delete(v.entries, k)
		}
	}
	v.entries[raw] = e
}

// valid applies the checks jwt.Parse applies to these claims, with the same
// leeway, at time now.
func (e verifiedSession) valid(now time.Time) (expired bool, ok bool) {
	if !now.Before(e.expires.Add(clockSkew)) {
		return true, false
	}
	if now.Before(e.notBefore.Add(-clockSkew)) {
		return false, false
	}
	return false, true
}

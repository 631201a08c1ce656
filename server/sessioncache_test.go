package server

import (
	"fmt"
	"testing"
	"time"
)

func TestVerifiedSession_ValidAppliesTheJWTLeeway(t *testing.T) {
	issued := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	s := verifiedSession{subject: "u", notBefore: issued, expires: issued.Add(time.Hour)}
	for _, tt := range []struct {
		name        string
		now         time.Time
		expired, ok bool
	}{
		{"at issue", issued, false, true},
		{"within the skew before issue", issued.Add(-clockSkew + time.Millisecond), false, true},
		{"before issue past the skew", issued.Add(-clockSkew - time.Millisecond), false, false},
		{"at expiry, inside the skew", issued.Add(time.Hour), false, true},
		{"at expiry plus the skew", issued.Add(time.Hour + clockSkew), true, false},
		{"a day later", issued.Add(24 * time.Hour), true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			expired, ok := s.valid(tt.now)
			if expired != tt.expired || ok != tt.ok {
				t.Fatalf("valid(%s) = %v, %v; want %v, %v", tt.now, expired, ok, tt.expired, tt.ok)
			}
		})
	}
}

func TestVerifiedSessions_StayBoundedAndDropExpiredFirst(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	v := newVerifiedSessions(8)
	for i := 0; i < 4; i++ {
		v.put(fmt.Sprintf("old%d", i), verifiedSession{subject: "u", expires: now.Add(-time.Hour)}, now)
	}
	for i := 0; i < 4; i++ {
		v.put(fmt.Sprintf("live%d", i), verifiedSession{subject: "u", expires: now.Add(time.Hour)}, now)
	}
	v.put("new", verifiedSession{subject: "u", expires: now.Add(time.Hour)}, now)
	for i := 0; i < 4; i++ {
		if _, ok := v.get(fmt.Sprintf("old%d", i)); ok {
			t.Fatalf("expired session old%d kept while live ones fit", i)
		}
		if _, ok := v.get(fmt.Sprintf("live%d", i)); !ok {
			t.Fatalf("live session live%d dropped while expired ones were there", i)
		}
	}
	if _, ok := v.get("new"); !ok {
		t.Fatal("the newest session was not kept")
	}
	for i := 0; i < 100; i++ {
		v.put(fmt.Sprintf("more%d", i), verifiedSession{subject: "u", expires: now.Add(time.Hour)}, now)
		if n := len(v.entries); n > 8 {
			t.Fatalf("%d entries, bound is 8", n)
		}
	}
}

package server

import (
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
)

// withLoginDefaults fills the login limits a configuration left at zero.
func withLoginDefaults(l store.LoginLimits) store.LoginLimits {
	if l.AccountFailures <= 0 {
		l.AccountFailures = 5
	}
	if l.ClientAccounts <= 0 {
		l.ClientAccounts = 20
	}
	if l.Window <= 0 {
		l.Window = 15 * time.Minute
	}
	if l.Lockout <= 0 {
		l.Lockout = 15 * time.Minute
	}
	if l.KnownFor <= 0 {
		l.KnownFor = 90 * 24 * time.Hour
	}
	return l
}

// clientIP is the address of whoever sent the request. Behind a trusted reverse
// proxy it comes from the configured header: for X-Forwarded-For, the right-most
// address that is not itself a trusted proxy (the left part is the client's to
// forge). Anything unparsable falls back to the peer address.
func (s *Server) clientIP(c *fiber.Ctx) string {
	remote := c.Context().RemoteIP()
	peer, ok := netip.AddrFromSlice(remote)
	if !ok {
		return remote.String()
	}
	peer = peer.Unmap()
	if s.cfg.ClientIPHeader == "" || !s.trusted(peer) {
		return peer.String()
	}
	value := c.Get(s.cfg.ClientIPHeader)
	if value == "" {
		return peer.String()
	}
	hops := strings.Split(value, ",")
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer.String()
		}
		addr = addr.Unmap()
		if i == 0 || !s.trusted(addr) {
			return addr.String()
		}
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

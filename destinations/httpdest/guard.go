package httpdest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// Resolver looks host names up; *net.Resolver is one. Tests pass a fake so that a name
// can be made to resolve anywhere without asking DNS.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// BlockedError says a destination's host is, or resolves to, an address Sluice refuses
// to send to (OWASP SSRF prevention): loopback, private, link-local, and the like.
type BlockedError struct {
	// Host is the host name or address the URL named.
	Host string
	// Addr is the refused address it resolved to.
	Addr netip.Addr
	// Reason names the kind of address, in words: "loopback", "private", "link-local"…
	Reason string
}

func (e *BlockedError) Error() string {
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("httpdest: %s resolves to %s, a %s address", e.Host, e.Addr, e.Reason)
	}
	return fmt.Sprintf("httpdest: %s is a %s address", e.Addr, e.Reason)
}

type prefixReason struct {
	prefix netip.Prefix
	reason string
}

// reserved lists what netip's own predicates (IsLoopback, IsPrivate, IsLinkLocalUnicast,
// IsMulticast…) leave out: ranges that are not the public internet, or that no endpoint
// Sluice should call lives in.
var reserved = []prefixReason{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\""},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT (shared)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // and 255.255.255.255, broadcast
	{netip.MustParsePrefix("::/96"), "reserved (IPv4-compatible)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "private (local NAT64)"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
}

// Prefixes of IPv6 addresses that carry an IPv4 address inside, which is judged instead.
var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: IPv4 in the last 4 bytes
	sixToFo = netip.MustParsePrefix("2002::/16")    // RFC 3056: IPv4 in bytes 2 to 5
)

// BlockedReason says why Sluice refuses to connect to addr ("loopback", "private",
// "link-local", "multicast"…), or "" when addr is a public unicast address. IPv4-mapped
// IPv6 addresses (::ffff:127.0.0.1) are judged as the IPv4 address they carry, and so are
// NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses, which a gateway turns back into it.
func BlockedReason(addr netip.Addr) string {
	if !addr.IsValid() {
		return "invalid"
	}
	addr = addr.WithZone("").Unmap()
	switch {
	case addr.IsUnspecified():
		return "unspecified"
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate():
		return "private"
	case addr.IsLinkLocalUnicast():
		return "link-local" // 169.254.0.0/16, the cloud metadata address among them, and fe80::/10
	case addr.IsMulticast(), addr.IsLinkLocalMulticast(), addr.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, r := range reserved {
		if r.prefix.Contains(addr) {
			return r.reason
		}
	}
	if addr.Is6() {
		b := addr.As16()
		switch {
		case nat64.Contains(addr):
			return BlockedReason(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixToFo.Contains(addr):
			return BlockedReason(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	return ""
}

// CheckHost refuses a host (a URL's Hostname: a name or an IP literal) that is, or
// resolves to, any address BlockedReason refuses. A name is resolved with r
// (net.DefaultResolver when nil); a name with one private address among public ones is
// refused too, since the connection could go to any of them. A lookup failure is returned
// as it is (a *net.DNSError), for the caller to word. This is the check at configuration
// time; the dialer of NewClient checks again at connect time, where DNS may answer
// differently (DNS rebinding).
func CheckHost(ctx context.Context, r Resolver, host string) error {
	if addr, err := netip.ParseAddr(host); err == nil {
		if reason := BlockedReason(addr); reason != "" {
			return &BlockedError{Host: host, Addr: addr, Reason: reason}
		}
		return nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		return &net.DNSError{Err: "no addresses found", Name: host, IsNotFound: true}
	}
	for _, addr := range addrs {
		if reason := BlockedReason(addr); reason != "" {
			return &BlockedError{Host: host, Addr: addr, Reason: reason}
		}
	}
	return nil
}

// dialControl is the net.Dialer Control of a client that refuses private networks: it
// runs after DNS, on the very address about to be connected to, so a name that resolved
// to a public address at configuration time and to 127.0.0.1 now is still refused.
// An address it cannot read is refused too: the check fails closed.
func dialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Host: address, Reason: "unreadable"}
	}
	if reason := BlockedReason(ap.Addr()); reason != "" {
		return &BlockedError{Addr: ap.Addr(), Reason: reason}
	}
	return nil
}

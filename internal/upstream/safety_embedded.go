package upstream

import "net/netip"

// IPv6 prefixes that carry an IPv4 address in their low 32 bits and that a
// network may translate to that IPv4 address. An IPv4-mapped address
// (::ffff:a.b.c.d) is not among them, because netip.Addr.Unmap handles it.
var (
	// nat64Prefix is the NAT64 well-known prefix (RFC 6052).
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	// ipv4CompatiblePrefix is the deprecated IPv4-compatible form (RFC 4291
	// section 2.5.5.1).
	ipv4CompatiblePrefix = netip.MustParsePrefix("::/96")
)

// embeddedIPv4 returns the IPv4 address that ip carries in the NAT64 or
// IPv4-compatible form, so that the policy also checks where a translated
// connection would go. In the IPv4-compatible range, addresses whose IPv4
// part starts with 0 (such as :: and ::1) are IPv6 addresses in their own
// right and are not treated as embedding.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() || ip.Is4In6() {
		return netip.Addr{}, false
	}

	b := ip.As16()
	v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	switch {
	case nat64Prefix.Contains(ip):
		return v4, true
	case ipv4CompatiblePrefix.Contains(ip) && b[12] != 0:
		return v4, true
	}
	return netip.Addr{}, false
}

package upstream

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Cloud instance metadata services. They hand out instance credentials, so a
// registry must never be able to point this process at them through a token
// realm or a redirect.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack
	netip.MustParseAddr("fd00:ec2::254"),   // AWS over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
}

// blockedAddressError reports a URL or address that the upstream safety
// policy rejects.
type blockedAddressError struct {
	target string
	reason string
}

func (e *blockedAddressError) Error() string {
	return fmt.Sprintf("connection to %s blocked: %s", e.target, e.reason)
}

// addressPolicy decides which addresses token realms, redirects and dials
// may reach. Private ranges stay allowed because private registries live
// there.
type addressPolicy struct {
	// allowLoopback is true only when the upstream itself is on loopback,
	// as in tests. Otherwise a registry could reach services on this host.
	allowLoopback bool
}

func (p addressPolicy) checkAddr(ip netip.Addr) error {
	ip = ip.Unmap()
	if v4, ok := embeddedIPv4(ip); ok {
		if err := p.checkAddr(v4); err != nil {
			return fmt.Errorf("%s carries the IPv4 address %s: %w", ip, v4, err)
		}
	}

	for _, m := range metadataAddrs {
		if ip == m {
			return &blockedAddressError{target: ip.String(), reason: "cloud metadata address"}
		}
	}

	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() {
		return &blockedAddressError{target: ip.String(), reason: "link-local address"}
	}

	// On Linux a dial to 0.0.0.0 or :: reaches this host, like loopback.
	if (ip.IsLoopback() || ip.IsUnspecified()) && !p.allowLoopback {
		return &blockedAddressError{target: ip.String(), reason: "loopback address while the upstream is not on loopback"}
	}

	return nil
}

// checkURL rejects a realm or redirect URL before any connection is made, so
// the error names the URL. Host names are checked again after resolution by
// the dialer's control function.
func (p addressPolicy) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return &blockedAddressError{target: u.Redacted(), reason: fmt.Sprintf("scheme %q is not http or https", u.Scheme)}
	}

	host := u.Hostname()
	if host == "" {
		return &blockedAddressError{target: u.Redacted(), reason: "no host"}
	}

	if isLocalhostName(host) && !p.allowLoopback {
		return &blockedAddressError{target: host, reason: "loopback host name while the upstream is not on loopback"}
	}

	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}

	return p.checkAddr(ip)
}

// control runs after name resolution and before connect, so it also catches
// host names that resolve to blocked addresses.
func (p addressPolicy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("parse dial address %q: %w", address, err)
	}

	return p.checkAddr(ap.Addr())
}

// isLocalhostName reports the names that resolve to loopback by convention
// (RFC 6761 section 6.3).
func isLocalhostName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))

	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// isLoopbackHost reports whether the upstream's own URL host is loopback,
// without resolving names, because New does no network I/O.
func isLoopbackHost(host string) bool {
	if isLocalhostName(host) {
		return true
	}

	ip, err := netip.ParseAddr(host)

	return err == nil && ip.Unmap().IsLoopback()
}

// newDialContext returns a dial function that applies the policy to every
// resolved address except the upstream's own host and port, which the
// operator configured and which may be a name that resolves to loopback.
func newDialContext(policy addressPolicy, upstreamAddr string, timeout time.Duration) func(ctx context.Context, network, address string) (net.Conn, error) {
	guarded := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: policy.control}

	trustedPolicy := policy
	trustedPolicy.allowLoopback = true
	trusted := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: trustedPolicy.control}

	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if strings.EqualFold(address, upstreamAddr) {
			return trusted.DialContext(ctx, network, address)
		}

		return guarded.DialContext(ctx, network, address)
	}
}

// hostPort returns u's host with the scheme's default port filled in, in the
// form a dial address takes.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}

	return net.JoinHostPort(u.Hostname(), port)
}

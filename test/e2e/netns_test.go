package e2e

import (
	"net"
	"os"
	"testing"
)

// requireLoopbackOnly skips the test, or fails it when CI is "true",
// unless the test runs in a network namespace whose only interface that is
// up is loopback, as scripts/test.sh arranges with unshare -n. containerd,
// dockerd and podman fall back to the real registry when a mirror fails, and this
// guarantees that such a fallback cannot leave the machine.
func requireLoopbackOnly(t *testing.T) {
	t.Helper()
	interfaces, err := net.Interfaces()
	if err != nil {
		t.Fatalf("list network interfaces: %v", err)
	}
	for _, iface := range interfaces {
		if iface.Flags&net.FlagUp != 0 && iface.Flags&net.FlagLoopback == 0 {
			const loopbackHint = "; run it inside a network namespace with loopback only, as scripts/test.sh does"
			if os.Getenv("CI") == "true" {
				t.Fatalf("network interface %s is up%s", iface.Name, loopbackHint)
			}
			t.Skipf("network interface %s is up%s", iface.Name, loopbackHint)
		}
	}
}

// requireRoot skips the test, or fails it when CI is "true", unless it
// runs as root, which the daemons need to mount and own their storage.
func requireRoot(t *testing.T, daemon string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s needs root and CI=true", daemon)
	}
	t.Skipf("%s needs root", daemon)
}

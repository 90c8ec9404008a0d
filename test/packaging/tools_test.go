package packaging

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// requireTool skips the test when the named program is not on PATH, or
// fails it when the environment variable CI is "true", where a missing
// tool must not pass for a green run.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	const hint = "install it with: sudo bash scripts/install-test-tools.sh"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not on PATH and CI=true; %s", name, hint)
	}
	t.Skipf("%s is not on PATH; %s", name, hint)
}

// requireRealRoot skips the test, or fails it when CI is "true", unless
// the process is root in the host's user namespace. A root mapped by
// unshare --map-root-user cannot set up container storage.
func requireRealRoot(t *testing.T, what string) {
	t.Helper()
	uidMap, err := os.ReadFile("/proc/self/uid_map")
	if os.Geteuid() == 0 && err == nil && strings.Join(strings.Fields(string(uidMap)), " ") == "0 0 4294967295" {
		return
	}
	message := what + " needs root outside a user namespace; run scripts/test.sh as root"
	if os.Getenv("CI") == "true" {
		t.Fatal(message)
	}
	t.Skip(message)
}

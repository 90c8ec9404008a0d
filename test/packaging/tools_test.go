package packaging

import (
	"os"
	"os/exec"
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

package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// runHealthcheck runs the pullcache binary's healthcheck against the
// mirror's admin address and returns its exit code and output.
func runHealthcheck(t *testing.T, m *mirror) (int, string) {
	t.Helper()
	cmd := exec.Command(pullcacheBinary, "healthcheck", "--admin", "http://"+m.adminAddr)
	output, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run pullcache healthcheck: %v", err)
	}
	return cmd.ProcessState.ExitCode(), string(output)
}

func TestHealthcheckExitCodes(t *testing.T) {
	t.Parallel()
	hub := startHub(t, hubOptions{})
	m := startMirror(t, hub, mirrorConfig{})

	if code, output := runHealthcheck(t, m); code != 0 || strings.TrimSpace(output) != "ok" {
		t.Errorf("healthcheck of a running server: exit %d, output %q; want 0 and ok", code, output)
	}

	m.stop()
	code, output := runHealthcheck(t, m)
	if code != 1 {
		t.Errorf("healthcheck of a stopped server: exit %d, want 1", code)
	}
	if !strings.Contains(output, "/healthz") {
		t.Errorf("healthcheck of a stopped server printed %q, want an error naming /healthz", output)
	}
}

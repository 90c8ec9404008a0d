package e2e

import (
	"os/exec"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/testproc"
)

// runServer starts cmd with its output in logPath, waits until
// opts.Ready succeeds or the process exits, and stops it at cleanup,
// printing the log's tail when the test failed. Zero timeouts in opts
// take the package's readyTimeout and stopTimeout.
func runServer(t *testing.T, name string, cmd *exec.Cmd, logPath string, opts testproc.Options) *testproc.Process {
	t.Helper()
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = readyTimeout
	}
	if opts.Interval == 0 {
		opts.Interval = 50 * time.Millisecond
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = stopTimeout
	}
	opts.LogLimit = maxLogDump
	return testproc.Run(t, name, cmd, logPath, opts)
}

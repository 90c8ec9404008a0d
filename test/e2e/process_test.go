package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

// runCommand runs name with args to completion within toolTimeout, with
// env and, when not empty, dir, and returns what it printed. stdout, when
// not nil, receives the standard output instead of the result.
func runCommand(stdout io.Writer, env []string, dir, name string, args ...string) toolResult {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stderr = &errOut

	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %s: %w", name, toolTimeout, err)
	}
	return toolResult{stdout: out.String(), stderr: errOut.String(), err: err}
}

// Package testproc runs the server processes that tests start: a command
// with its output in a log file, a wait until it responds, and a stop with
// SIGTERM, then SIGKILL, at cleanup.
package testproc

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

// Process is a started command whose standard output and error go to a
// log file.
type Process struct {
	Name    string // for messages, such as "containerd"
	Cmd     *exec.Cmd
	LogPath string
	// Exited is closed once the process has exited and been waited for.
	Exited chan struct{}
}

// Start starts cmd with its standard output and error written to logPath.
// Linux kills the process when the thread that started it exits, so a test
// binary that dies takes its servers with it.
func Start(name string, cmd *exec.Cmd, logPath string) (*Process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	defer logFile.Close()

	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}

	p := &Process{Name: name, Cmd: cmd, LogPath: logPath, Exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.Exited)
	}()
	return p, nil
}

// Stop sends SIGTERM and waits up to timeout for the process to exit, then
// kills it. It reports whether the process exited on SIGTERM (or had
// exited before).
func (p *Process) Stop(timeout time.Duration) bool {
	select {
	case <-p.Exited:
		return true
	default:
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Exited:
		return true
	case <-time.After(timeout):
		p.Cmd.Process.Kill()
		<-p.Exited
		return false
	}
}

// Log returns the last limit bytes of the process's log, or all of it when
// limit is 0.
func (p *Process) Log(limit int) string {
	output, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(read %s log: %v)", p.Name, err)
	}
	if limit > 0 && len(output) > limit {
		return "[…]" + string(output[len(output)-limit:])
	}
	return string(output)
}

// WaitReady calls ready every interval until it returns nil, the process
// exits or timeout passes.
func (p *Process) WaitReady(timeout, interval time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-p.Exited:
			return fmt.Errorf("%s exited before it was ready (%s)", p.Name, p.Cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not ready within %s: %w", p.Name, timeout, err)
		}
		time.Sleep(interval)
	}
}

// Options control how Run waits for a process and stops it.
type Options struct {
	// Ready returns nil once the process serves. A nil Ready means no wait.
	Ready func() error
	// ReadyTimeout bounds the wait for Ready, and Interval is the time
	// between tries.
	ReadyTimeout, Interval time.Duration
	// StopTimeout bounds the wait for the process to exit after SIGTERM.
	StopTimeout time.Duration
	// FailOnKill fails the test when the process had to be killed.
	FailOnKill bool
	// LogLimit bounds how much of the log a failed test prints. Zero prints
	// all of it.
	LogLimit int
}

// Run starts cmd as Start does, stops it at cleanup, printing its log if
// the test failed, and waits until opts.Ready succeeds. It fails the test
// when the process cannot start or does not become ready.
func Run(t testing.TB, name string, cmd *exec.Cmd, logPath string, opts Options) *Process {
	t.Helper()
	p, err := Start(name, cmd, logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.Stop(opts.StopTimeout) && opts.FailOnKill {
			t.Errorf("%s (pid %d) did not exit within %s of SIGTERM, so it was killed", name, cmd.Process.Pid, opts.StopTimeout)
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.Log(opts.LogLimit))
		}
	})

	if opts.Ready == nil {
		return p
	}
	if err := p.WaitReady(opts.ReadyTimeout, opts.Interval, opts.Ready); err != nil {
		t.Fatalf("%v\nlog:\n%s", err, p.Log(opts.LogLimit))
	}
	return p
}

// HTTPReady returns a Ready function that GETs url, without a proxy, and
// succeeds on one of the given status codes, or on any response when none
// is given.
func HTTPReady(url string, statuses ...int) func() error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	return func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if len(statuses) > 0 && !slices.Contains(statuses, resp.StatusCode) {
			return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
		return nil
	}
}

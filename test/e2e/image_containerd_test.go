package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// imageContainerdNamespace keeps the test's images and containers apart
	// from anything else in the daemon.
	imageContainerdNamespace = "pullcache-e2e-image"
	// imageContainerdStartTimeout bounds the wait for the daemon's socket;
	// containerd 1.6 starts in well under a second here.
	imageContainerdStartTimeout = 15 * time.Second
)

// requireImageTestHost skips the test, or fails it when CI is "true",
// unless the process runs as root, which containerd and runc need. It
// also requires a network namespace whose only interface is loopback,
// because the container shares the host network and binds every
// interface.
func requireImageTestHost(t *testing.T) {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 || !initialUserNamespace() {
		skip("running containers with containerd needs root outside a user namespace; run scripts/test.sh as root")
	}
	interfaces, err := net.Interfaces()
	if err != nil {
		t.Fatalf("list network interfaces: %v", err)
	}
	for _, iface := range interfaces {
		if iface.Flags&net.FlagLoopback == 0 {
			skip("network interface %s exists: run this test in a network namespace with only loopback, as scripts/test.sh does", iface.Name)
		}
	}
}

// initialUserNamespace reports whether this process is in the host's user
// namespace, where uid 0 is real root. scripts/test.sh run by another
// user gives a mapped root (unshare --map-root-user), which cannot mount
// overlayfs snapshots or set up cgroups for runc.
func initialUserNamespace() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	return strings.Join(strings.Fields(string(data)), " ") == "0 0 4294967295"
}

// imageContainerd is a containerd daemon private to one test: its root,
// state, sockets and log are under a temporary directory, and the CRI
// plugin is off.
type imageContainerd struct {
	t       *testing.T
	dir     string
	socket  string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// startImageContainerd starts containerd and stops it at cleanup.
func startImageContainerd(t *testing.T) *imageContainerd {
	t.Helper()
	// A short directory name keeps the socket path under the 108-byte
	// limit of Unix socket addresses.
	dir, err := os.MkdirTemp("", "pcctd-")
	if err != nil {
		t.Fatalf("create containerd directory: %v", err)
	}
	c := &imageContainerd{
		t:       t,
		dir:     dir,
		socket:  filepath.Join(dir, "containerd.sock"),
		logPath: filepath.Join(dir, "containerd.log"),
	}
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[debug]
  address = %[5]q
  level = "info"
[metrics]
  address = ""
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.socket, c.socket+".ttrpc", filepath.Join(dir, "debug.sock"))
	configPath := filepath.Join(dir, "config.toml")
	writeFile(t, configPath, config)

	logFile, err := os.Create(c.logPath)
	if err != nil {
		t.Fatalf("create containerd log: %v", err)
	}
	defer logFile.Close()
	c.cmd = exec.Command("containerd", "--config", configPath)
	c.cmd.Stdout = logFile
	c.cmd.Stderr = logFile
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	c.exited = make(chan struct{})
	go func() {
		c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(c.stop)

	deadline := time.Now().Add(imageContainerdStartTimeout)
	for {
		if result := c.ctr("version"); result.err == nil {
			return c
		}
		select {
		case <-c.exited:
			t.Fatalf("containerd exited at start-up (%s); log:\n%s", c.cmd.ProcessState, c.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not answer on %s within %s; log:\n%s", c.socket, imageContainerdStartTimeout, c.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ctr runs ctr against this daemon and namespace to completion.
func (c *imageContainerd) ctr(args ...string) toolResult {
	return runCommand(nil, nil, "", "ctr", c.ctrArgs(args...)...)
}

func (c *imageContainerd) ctrArgs(args ...string) []string {
	return append([]string{"--address", c.socket, "--namespace", imageContainerdNamespace}, args...)
}

// mustCtr runs ctr and fails the test when it fails.
func (c *imageContainerd) mustCtr(args ...string) string {
	c.t.Helper()
	result := c.ctr(args...)
	c.t.Logf("ctr %s: %s", strings.Join(args, " "), errOrOK(result.err))
	if result.err != nil {
		c.t.Fatalf("ctr %s failed: %s", strings.Join(args, " "), result.failure())
	}
	return result.stdout
}

// taskPID returns the host PID of the container's init process, or 0
// when the task is not running.
func (c *imageContainerd) taskPID(id string) int {
	result := c.ctr("tasks", "ls")
	if result.err != nil {
		return 0
	}
	for _, line := range strings.Split(result.stdout, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 3 && fields[0] == id && fields[2] == "RUNNING" {
			pid, err := strconv.Atoi(fields[1])
			if err == nil {
				return pid
			}
		}
	}
	return 0
}

// removeContainer kills and deletes a container that a failed test left
// behind, so that its rootfs is unmounted before the directory goes.
func (c *imageContainerd) removeContainer(id string) {
	c.ctr("tasks", "kill", "--signal", "SIGKILL", id)
	c.ctr("tasks", "delete", "--force", id)
	c.ctr("containers", "delete", id)
}

func (c *imageContainerd) log() string {
	data, err := os.ReadFile(c.logPath)
	if err != nil {
		return err.Error()
	}
	return tail(string(data), maxLogDump)
}

// stop stops the daemon with SIGTERM, or SIGKILL after stopTimeout, and
// removes its directory.
func (c *imageContainerd) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(stopTimeout):
		c.t.Errorf("containerd (pid %d) did not exit within %s of SIGTERM; killing it", c.cmd.Process.Pid, stopTimeout)
		c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.exited
	}
	if c.t.Failed() {
		c.t.Logf("containerd log:\n%s", c.log())
	}
	if err := os.RemoveAll(c.dir); err != nil {
		c.t.Errorf("remove containerd directory: %v", err)
	}
}

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/testproc"
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
	// Registered first, so that it runs after containerd has stopped.
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove containerd directory: %v", err)
		}
	})
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

	runServer(t, "containerd", exec.Command("containerd", "--config", configPath), c.logPath, testproc.Options{
		Ready:        func() error { return c.ctr("version").err },
		ReadyTimeout: imageContainerdStartTimeout,
		Interval:     100 * time.Millisecond,
		FailOnKill:   true,
	})
	return c
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

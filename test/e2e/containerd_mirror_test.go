package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/testproc"
)

// mirrorContainerd is a containerd daemon with its root, state, sockets
// and registry host configuration under one temporary folder, and the
// CRI plugin off. Tests talk to it with ctr.
type mirrorContainerd struct {
	dir      string
	socket   string
	hostsDir string
}

// startMirrorContainerd starts containerd and stops it at cleanup.
func startMirrorContainerd(t *testing.T) *mirrorContainerd {
	t.Helper()
	requireTool(t, "containerd")
	requireTool(t, "ctr")
	requireRoot(t, "containerd")
	requireLoopbackOnly(t)

	// A short base keeps the socket paths under the 108-byte limit of a
	// Unix socket address.
	dir, err := os.MkdirTemp("", "pc-ctd-")
	if err != nil {
		t.Fatalf("create containerd folder: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	c := &mirrorContainerd{
		dir:      dir,
		socket:   filepath.Join(dir, "containerd.sock"),
		hostsDir: filepath.Join(dir, "hosts"),
	}
	configPath := filepath.Join(dir, "config.toml")
	writeFile(t, configPath, fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = %q
  level = "info"
[metrics]
  address = ""
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.socket, c.socket+".ttrpc", filepath.Join(dir, "debug.sock")))

	cmd := exec.Command("containerd", "--config", configPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	runServer(t, "containerd", cmd, filepath.Join(dir, "containerd.log"), testproc.Options{
		Ready:      func() error { return c.ctr(t, "version").err },
		Interval:   100 * time.Millisecond,
		FailOnKill: true,
	})
	return c
}

// writeHosts writes the hosts.toml of one registry host.
func (c *mirrorContainerd) writeHosts(t *testing.T, registry, hostsTOML string) {
	t.Helper()
	dir := filepath.Join(c.hostsDir, registry)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create %s: %v", dir, err)
	}
	writeFile(t, filepath.Join(dir, "hosts.toml"), hostsTOML)
}

// ctr runs ctr against this daemon within toolTimeout.
func (c *mirrorContainerd) ctr(t *testing.T, args ...string) toolResult {
	t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.dir}
	return runCommand(nil, env, "", "ctr", append([]string{"--address", c.socket}, args...)...)
}

// pull pulls and unpacks ref through the hosts directory.
func (c *mirrorContainerd) pull(t *testing.T, ref string) toolResult {
	t.Helper()
	start := time.Now()
	r := c.ctr(t, "images", "pull", "--hosts-dir", c.hostsDir, ref)
	t.Logf("ctr images pull %s: %s in %s", ref, errOrOK(r.err), time.Since(start).Round(time.Millisecond))
	return r
}

// imageDigest returns the digest ctr images ls lists for ref, or "".
func (c *mirrorContainerd) imageDigest(t *testing.T, ref string) string {
	t.Helper()
	r := c.ctr(t, "images", "ls")
	if r.err != nil {
		t.Fatalf("ctr images ls failed: %s", r.failure())
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 3 && fields[0] == ref {
			return fields[2]
		}
	}
	return ""
}

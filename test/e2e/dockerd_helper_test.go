package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/testproc"
)

// testDockerd is a Docker Engine daemon with its data, run state, trust key
// and socket under one temporary folder, no bridge network and no iptables
// rules. Outside the folder it leaves only the empty directory
// /run/docker/plugins, whose path dockerd 20.10 fixes. It only pulls images
// and runs no container.
type testDockerd struct {
	dir    string
	socket string
}

// startDockerd starts dockerd with args added to the sandbox's own flags
// and, when daemonJSON is not empty, with it as the configuration file.
func startDockerd(t *testing.T, daemonJSON string, args ...string) *testDockerd {
	t.Helper()
	requireTool(t, "dockerd")
	requireTool(t, "docker")
	requireRoot(t, "dockerd")
	requireLoopbackOnly(t)

	// A short base keeps the sockets of dockerd's own containerd under
	// the 108-byte limit of a Unix socket address.
	dir, err := os.MkdirTemp("", "pc-dk-")
	if err != nil {
		t.Fatalf("create dockerd folder: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &testDockerd{dir: dir, socket: filepath.Join(dir, "docker.sock")}

	flags := []string{
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"--host", "unix://" + d.socket,
		"--bridge", "none",
		"--iptables=false",
		"--ip6tables=false",
		"--storage-driver", "vfs",
	}
	configPath := filepath.Join(dir, "daemon.json")
	writeFile(t, configPath, sandboxDaemonJSON(t, daemonJSON, filepath.Join(dir, "key.json")))
	flags = append(flags, "--config-file", configPath)
	flags = append(flags, args...)

	cmd := exec.Command("dockerd", flags...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	runServer(t, "dockerd", cmd, filepath.Join(dir, "dockerd.log"), testproc.Options{
		Ready:        func() error { return d.docker(t, "version").err },
		ReadyTimeout: 4 * readyTimeout,
		Interval:     200 * time.Millisecond,
		FailOnKill:   true,
	})
	return d
}

// sandboxDaemonJSON returns daemonJSON (empty means {}) with dockerd
// 20.10's trust key moved into the sandbox. That key has no flag, and by
// default dockerd writes it to /etc/docker/key.json.
func sandboxDaemonJSON(t *testing.T, daemonJSON, keyPath string) string {
	t.Helper()
	settings := map[string]any{}
	if daemonJSON != "" {
		if err := json.Unmarshal([]byte(daemonJSON), &settings); err != nil {
			t.Fatalf("parse daemon.json %q: %v", daemonJSON, err)
		}
	}
	settings["deprecated-key-path"] = keyPath
	out, err := json.Marshal(settings)
	if err != nil {
		t.Fatalf("encode daemon.json: %v", err)
	}
	return string(out)
}

// docker runs the docker client against this daemon within toolTimeout.
func (d *testDockerd) docker(t *testing.T, args ...string) toolResult {
	t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + d.dir, "DOCKER_CONFIG=" + filepath.Join(d.dir, "client")}
	return runCommand(nil, env, "", "docker", append([]string{"--host", "unix://" + d.socket}, args...)...)
}

// pull pulls ref and returns the repository digest dockerd recorded, such
// as sha256:..., or "" when the pull failed.
func (d *testDockerd) pull(t *testing.T, ref string) (string, toolResult) {
	t.Helper()
	start := time.Now()
	r := d.docker(t, "pull", ref)
	t.Logf("docker pull %s: %s in %s", ref, errOrOK(r.err), time.Since(start).Round(time.Millisecond))
	if r.err != nil {
		return "", r
	}
	inspect := d.docker(t, "image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", ref)
	if inspect.err != nil {
		t.Fatalf("docker image inspect %s failed: %s", ref, inspect.failure())
	}
	for _, line := range strings.Split(inspect.stdout, "\n") {
		if _, digest, ok := strings.Cut(strings.TrimSpace(line), "@"); ok {
			return digest, r
		}
	}
	return "", r
}

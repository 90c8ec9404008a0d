package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/testproc"
)

const (
	// imageTestVersion is stamped into the binary and names the image.
	imageTestVersion = "v0.0.0-e2e"
	// imageRef is the name ctr gives the image of the docker archive that
	// scripts/release.sh tags pullcache:VERSION.
	imageRef = "docker.io/library/pullcache:" + imageTestVersion
	// imageContainerID names the test's container.
	imageContainerID = "pullcache-e2e"
	// imageRegistryAddr and imageAdminAddr are where the image's default
	// configuration listens (0.0.0.0:5000 and 0.0.0.0:9090), seen from the
	// host network the container shares.
	imageRegistryAddr = "127.0.0.1:5000"
	imageAdminAddr    = "127.0.0.1:9090"
	// imageReleaseTimeout bounds scripts/release.sh for one platform: a
	// static build with a cold build cache and the image assembly.
	imageReleaseTimeout = 5 * time.Minute
	// imageStopTimeout is pullcache's 30 s shutdown grace plus a margin.
	imageStopTimeout = 40 * time.Second
)

// TestImageServesPullsInContainerd builds the release image, imports it
// into a private containerd, runs it with the image's own entrypoint,
// user and default configuration (only the upstream URL replaced by
// hubsim's) and pulls through it with crane and skopeo.
func TestImageServesPullsInContainerd(t *testing.T) {
	for _, tool := range []string{"containerd", "ctr", "runc", "crane", "skopeo"} {
		requireTool(t, tool)
	}
	requireImageTestHost(t)
	for _, addr := range []string{imageRegistryAddr, imageAdminAddr} {
		listener, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is taken, but the image's default configuration listens there: %v", addr, err)
		}
		listener.Close()
	}
	t.Parallel()

	archive := buildReleaseImage(t)
	hub := startHub(t, hubOptions{})
	configPath := writeImageTestConfig(t, hub.URL())
	ctd := startImageContainerd(t)

	ctd.mustCtr("images", "import", "--platform", "linux/"+runtime.GOARCH, archive)
	ctd.mustCtr("images", "check", "name=="+imageRef)

	container := runImageContainer(t, ctd, configPath)
	pid := container.waitReady(t)

	checkProcessUser(t, pid, "65532")
	// The image's Docker HEALTHCHECK runs this command inside the container.
	ctd.mustCtr("tasks", "exec", "--exec-id", "healthcheck", imageContainerID, "/usr/bin/pullcache", "healthcheck", "--config", "/etc/pullcache/config.yaml")

	client := newClientEnv(t)
	layout := client.cranePull(t, imageRegistryAddr+"/"+hub.std.MultiArch.Repo+":"+hub.std.MultiArch.Tag)
	layout.checkIndexPreserved(t, hub.std.MultiArch)
	alpine := hub.std.Alpine
	checkRawManifest(t, client, imageRegistryAddr+"/"+alpine.Repo+":"+alpine.Tag, alpine.Digest)

	// The store is the image's volume path, written by the non-root user.
	layer := hub.std.MultiArch.Images[0].Layers[0].Digest
	blob := filepath.Join("/proc", fmt.Sprint(pid), "root", "var/lib/pullcache/blobs/sha256", layer.Encoded())
	if info, err := os.Stat(blob); err != nil {
		t.Errorf("layer %s is not in the container's /var/lib/pullcache: %v", layer, err)
	} else if owner := info.Sys().(*syscall.Stat_t).Uid; owner != 65532 {
		t.Errorf("stored layer is owned by uid %d, want 65532", owner)
	}

	// containerd on a node, configured with the documented hosts.toml,
	// pulls and unpacks through the container. The fallback server points
	// at a closed loopback port, so only the mirror can serve the pull.
	hostsDir := writeHostsExample(t, "http://"+imageRegistryAddr, "http://127.0.0.1:1")
	multiArch := hub.std.MultiArch
	ctd.mustCtr("images", "pull", "--hosts-dir", hostsDir, "docker.io/"+multiArch.Repo+":"+multiArch.Tag)

	container.stop(t)
}

// writeHostsExample copies the nodes' hosts.toml example from
// deploy/kubernetes into a new hosts directory for docker.io, with the
// mirror and fallback server replaced, and returns the directory.
func writeHostsExample(t *testing.T, mirrorURL, serverURL string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "containerd-hosts.toml"))
	if err != nil {
		t.Fatalf("read the hosts.toml example: %v", err)
	}
	hosts := string(data)
	for old, replacement := range map[string]string{
		`server = "https://registry-1.docker.io"`: `server = "` + serverURL + `"`,
		`[host."http://pullcache.internal:5000"]`: `[host."` + mirrorURL + `"]`,
	} {
		if strings.Count(hosts, old) != 1 {
			t.Fatalf("the hosts.toml example does not contain %q once", old)
		}
		hosts = strings.Replace(hosts, old, replacement, 1)
	}

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "docker.io"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "docker.io", "hosts.toml"), hosts)
	return dir
}

// buildReleaseImage runs scripts/release.sh for this machine's platform
// and returns the docker archive it wrote.
func buildReleaseImage(t *testing.T) string {
	t.Helper()
	dist := filepath.Join(t.TempDir(), "dist")
	ctx, cancel := context.WithTimeout(context.Background(), imageReleaseTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, "bash", "scripts/release.sh")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "VERSION="+imageTestVersion, "PLATFORMS=linux/"+runtime.GOARCH, "DIST_DIR="+dist)
	start := time.Now()
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/release.sh failed: %v\n%s", err, output)
	}
	t.Logf("scripts/release.sh: ok in %s", time.Since(start).Round(time.Millisecond))
	return filepath.Join(dist, "pullcache-"+imageTestVersion+"-image-linux-"+runtime.GOARCH+".tar")
}

// writeImageTestConfig returns a copy of the image's default configuration
// whose docker.io upstream is hubURL.
func writeImageTestConfig(t *testing.T, hubURL string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "image", "config.yaml"))
	if err != nil {
		t.Fatalf("read the image's default configuration: %v", err)
	}
	const dockerHub = "url: https://registry-1.docker.io"
	if strings.Count(string(data), dockerHub) != 1 {
		t.Fatalf("the image's default configuration does not contain %q once", dockerHub)
	}
	config := strings.Replace(string(data), dockerHub, "url: "+hubURL, 1)

	path := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, path, config)
	return path
}

// imageContainer is a running `ctr run` of the image.
type imageContainer struct {
	ctd     *imageContainerd
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// runImageContainer starts the image with its own entrypoint on the host
// network, with configPath mounted over the default configuration. It
// removes the container at cleanup.
func runImageContainer(t *testing.T, ctd *imageContainerd, configPath string) *imageContainer {
	t.Helper()
	c := &imageContainer{ctd: ctd, logPath: filepath.Join(t.TempDir(), "container.log")}
	mount := "type=bind,src=" + configPath + ",dst=/etc/pullcache/config.yaml,options=rbind:ro"
	p, err := testproc.Start("ctr run", exec.Command("ctr", ctd.ctrArgs("run", "--rm", "--net-host", "--mount", mount, imageRef, imageContainerID)...), c.logPath)
	if err != nil {
		t.Fatal(err)
	}
	c.cmd, c.exited = p.Cmd, p.Exited
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			ctd.removeContainer(imageContainerID)
			<-c.exited
		}
		if t.Failed() {
			data, _ := os.ReadFile(c.logPath)
			t.Logf("container output:\n%s", tail(string(data), maxLogDump))
		}
	})
	return c
}

// waitReady waits until /readyz on the admin port returns 200 and
// returns the container's PID on the host.
func (c *imageContainer) waitReady(t *testing.T) int {
	t.Helper()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()

	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			t.Fatalf("the container exited before /readyz returned 200 (%s)", c.cmd.ProcessState)
		default:
		}
		resp, err := client.Get("http://" + imageAdminAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if pid := c.ctd.taskPID(imageContainerID); pid != 0 {
					return pid
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET http://%s/readyz did not return 200 within %s", imageAdminAddr, readyTimeout)
	return 0
}

// stop sends SIGTERM, the image's stop signal, and checks that pullcache
// exits with status 0 within its shutdown grace.
func (c *imageContainer) stop(t *testing.T) {
	t.Helper()
	c.ctd.mustCtr("tasks", "kill", "--signal", "SIGTERM", imageContainerID)
	select {
	case <-c.exited:
	case <-time.After(imageStopTimeout):
		t.Fatalf("the container did not exit within %s of SIGTERM", imageStopTimeout)
	}
	if code := c.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the container exited with status %d after SIGTERM, want 0", code)
	}
}

// checkProcessUser checks the real and effective uid of a host process.
func checkProcessUser(t *testing.T, pid int, want string) {
	t.Helper()
	status, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "status"))
	if err != nil {
		t.Fatalf("read the container process's status: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 3 && fields[0] == "Uid:" {
			if fields[1] != want || fields[2] != want {
				t.Errorf("the container runs as uid %s (effective %s), want %s", fields[1], fields[2], want)
			}
			return
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
}

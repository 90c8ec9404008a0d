package packaging

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// podmanTimeout bounds one podman command; loading the 4 MB image into
// vfs storage takes about a second.
const podmanTimeout = 2 * time.Minute

// TestImageConfigReadByPodman loads the release image into a private
// podman store and checks the settings a container engine reads from it,
// the Docker health check included, which containerd ignores.
func TestImageConfigReadByPodman(t *testing.T) {
	requireTool(t, "podman")
	requireRealRoot(t, "podman with a private rootful store")
	dist := releaseOutput(t)
	archive := filepath.Join(dist, "pullcache-"+releaseVersion+"-image-linux-"+runtime.GOARCH+".tar")

	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "storage.conf"),
		"[storage]\ndriver = \"vfs\"\nrunroot = \""+filepath.Join(dir, "run")+"\"\ngraphroot = \""+filepath.Join(dir, "root")+"\"\n")
	writeTestFile(t, filepath.Join(dir, "containers.conf"), "[engine]\nevents_logger = \"file\"\n")
	env := append(os.Environ(),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"TMPDIR="+dir,
	)
	podman := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), podmanTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "podman", args...)
		cmd.Env = env
		output, err := cmd.Output()
		if err != nil {
			stderr := ""
			if exitErr, ok := err.(*exec.ExitError); ok {
				stderr = string(exitErr.Stderr)
			}
			t.Fatalf("podman %v failed: %v\n%s", args, err, stderr)
		}
		return output
	}

	podman("load", "--quiet", "--input", archive)
	output := podman("image", "inspect", "pullcache:"+releaseVersion)

	var images []struct {
		Architecture string
		Labels       map[string]string
		HealthCheck  *struct {
			Test        []string
			Interval    time.Duration
			Timeout     time.Duration
			StartPeriod time.Duration
			Retries     int
		}
		Config struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			ExposedPorts map[string]struct{}
			Volumes      map[string]struct{}
			WorkingDir   string
			StopSignal   string
		}
	}
	if err := json.Unmarshal(output, &images); err != nil || len(images) != 1 {
		t.Fatalf("decode podman image inspect (%v):\n%s", err, output)
	}
	img := images[0]

	if img.Architecture != runtime.GOARCH {
		t.Errorf("architecture = %s, want %s", img.Architecture, runtime.GOARCH)
	}
	if hc := img.HealthCheck; hc == nil || !slices.Equal(hc.Test, []string{"CMD", "/usr/bin/pullcache", "healthcheck", "--config", "/etc/pullcache/config.yaml"}) ||
		hc.Interval != 30*time.Second || hc.Timeout != 5*time.Second || hc.Retries != 3 {
		t.Errorf("health check = %+v, want CMD /usr/bin/pullcache healthcheck --config /etc/pullcache/config.yaml every 30s, 5s timeout, 3 retries", hc)
	}
	c := img.Config
	if c.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532", c.User)
	}
	if want := []string{"/usr/bin/pullcache", "serve", "--config", "/etc/pullcache/config.yaml"}; !slices.Equal(c.Entrypoint, want) {
		t.Errorf("entrypoint = %q, want %q", c.Entrypoint, want)
	}
	if len(c.Cmd) != 0 {
		t.Errorf("cmd = %q, want none", c.Cmd)
	}
	for _, port := range []string{"5000/tcp", "9090/tcp"} {
		if _, ok := c.ExposedPorts[port]; !ok {
			t.Errorf("exposed ports %v lack %s", c.ExposedPorts, port)
		}
	}
	if _, ok := c.Volumes["/var/lib/pullcache"]; !ok {
		t.Errorf("volumes = %v, want /var/lib/pullcache", c.Volumes)
	}
	if c.StopSignal != "SIGTERM" {
		t.Errorf("stop signal = %q, want SIGTERM", c.StopSignal)
	}
	if got := img.Labels["org.opencontainers.image.version"]; got != releaseVersion {
		t.Errorf("version label = %q, want %q", got, releaseVersion)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

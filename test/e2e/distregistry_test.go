package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/pullcache/pullcache/internal/testproc"
)

// distRegistryBinary is Debian's build of the distribution registry
// (package docker-registry), used as a second upstream that is not hubsim.
const distRegistryBinary = "docker-registry"

// distRegistry is a docker-registry process serving a plain registry on a
// loopback port, with its own configuration and storage.
type distRegistry struct {
	addr string // HOST:PORT
	dir  string
}

// startDistRegistry starts docker-registry on a free loopback port and
// stops it at cleanup. The packaged configuration listens on all
// interfaces, so the test writes its own.
func startDistRegistry(t *testing.T) *distRegistry {
	t.Helper()
	requireTool(t, distRegistryBinary)
	dir := t.TempDir()
	addr, _, err := freeAddrs()
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	r := &distRegistry{addr: addr, dir: dir}

	configPath := filepath.Join(dir, "config.yml")
	writeFile(t, configPath, fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
`, filepath.Join(dir, "data"), addr))

	cmd := exec.Command(distRegistryBinary, "serve", configPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	runServer(t, distRegistryBinary, cmd, filepath.Join(dir, "registry.log"), testproc.Options{
		Ready: testproc.HTTPReady("http://"+addr+"/v2/", http.StatusOK),
	})
	return r
}

// pushImage builds a linux/amd64 image with one layer that holds the given
// files, pushes it to ref with crane and returns its manifest digest.
func pushImage(t *testing.T, env *clientEnv, ref string, files map[string]string) digest.Digest {
	t.Helper()
	layerPath := filepath.Join(t.TempDir(), "layer.tar")
	if err := os.WriteFile(layerPath, tarOf(t, files), 0o644); err != nil {
		t.Fatalf("write layer: %v", err)
	}

	if r := env.crane(t, "append", "-f", layerPath, "-t", ref); r.err != nil {
		t.Fatalf("crane append %s failed: %s", ref, r.failure())
	}
	// crane append without a base leaves the platform empty, which
	// containerd and podman would not match against linux/amd64.
	if r := env.crane(t, "mutate", "--set-platform", "linux/amd64", "-t", ref, ref); r.err != nil {
		t.Fatalf("crane mutate %s failed: %s", ref, r.failure())
	}
	return env.craneDigest(t, ref)
}

// tarOf returns a tar archive of files, in a fixed order.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range names {
		content := files[name]
		header := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(header); err != nil {
			t.Fatalf("write tar header %s: %v", name, err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatalf("write tar entry %s: %v", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("close tar: %v", err)
	}
	return buf.Bytes()
}

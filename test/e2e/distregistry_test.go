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
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
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

	logPath := filepath.Join(dir, "registry.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create registry log: %v", err)
	}
	defer logFile.Close()

	cmd := exec.Command(distRegistryBinary, "serve", configPath)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			output, _ := os.ReadFile(logPath)
			t.Logf("docker-registry log:\n%s", tail(string(output), maxLogDump))
		}
	})

	if err := waitForV2("http://"+addr, exited); err != nil {
		output, _ := os.ReadFile(logPath)
		t.Fatalf("docker-registry: %v\nlog:\n%s", err, output)
	}
	return r
}

// waitForV2 polls GET /v2/ on base until it returns 200, the process
// exits or readyTimeout passes.
func waitForV2(base string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()

	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("exited before it responded to GET %s/v2/", base)
		default:
		}
		resp, err := client.Get(base + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("GET %s/v2/ did not return 200 within %s", base, readyTimeout)
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

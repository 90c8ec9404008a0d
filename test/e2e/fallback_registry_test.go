package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// startDistribution starts Debian's docker-registry (the distribution
// registry) on a free loopback port with an empty filesystem store, and
// stops it at cleanup. It returns the registry's HOST:PORT.
func startDistribution(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	addr, _, err := freeAddrs()
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	configPath := filepath.Join(dir, "config.yml")
	writeFile(t, configPath, fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
`, filepath.Join(dir, "data"), addr))

	logFile, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command("docker-registry", "serve", configPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
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
			output, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Logf("docker-registry log:\n%s", tail(string(output), maxLogDump))
		}
	})

	client := newHTTPClient(t)
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		resp, err := client.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("docker-registry on %s did not answer GET /v2/ within %s", addr, readyTimeout)
	return ""
}

func TestFallbackDistributionRegistry(t *testing.T) {
	requireTool(t, "crane")
	requireTool(t, "docker-registry")
	t.Parallel()
	hub := startHub(t, hubOptions{limit: 1})
	// crane follows a token realm only on the registry's own host, so the
	// source hub serves its tokens itself.
	source := hubsim.New(hubsim.Options{})
	if err := source.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start the source hubsim: %v", err)
	}
	t.Cleanup(source.Close)
	source.SeedStandard(0)
	registry := startDistribution(t)
	client := newClientEnv(t)
	want := hub.std.MultiArch

	// The same index, copied with every platform, under a prefix.
	from := source.URL()[len("http://"):] + "/" + want.Repo + ":" + want.Tag
	to := registry + "/mirror/" + want.Repo + ":" + want.Tag
	if result := client.crane(t, "copy", from, to); result.err != nil {
		t.Fatalf("crane copy %s %s failed: %s", from, to, result.failure())
	}

	m := startMirror(t, hub, mirrorConfig{upstreamYAML: fallbackYAML("url: http://" + registry + ", path_prefix: mirror/")})
	spendQuota(t, hub, m)

	client.cranePull(t, m.ref(want.Repo+":"+want.Tag)).checkIndexPreserved(t, want)

	checkNoPrimaryPull(t, hub)
}

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHealthcheckTLSConfig runs `pullcache healthcheck --config` against a
// server with tls set, as the image's health check does. The certificate
// names tlsMirrorIP only, while the check connects to 127.0.0.1, so it
// passes only when it trusts the configured tls.cert without a name
// check.
func TestHealthcheckTLSConfig(t *testing.T) {
	t.Parallel()
	hub := startHub(t, hubOptions{})
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeCertificate(t, certFile, keyFile, 1)

	addr, adminAddr, err := freeAddrs()
	if err != nil {
		t.Fatalf("pick free ports: %v", err)
	}
	config := filepath.Join(dir, "pullcache.yaml")
	writeFile(t, config, fmt.Sprintf(`listen: %s
admin_listen: %s
storage:
  filesystem:
    root: %s
tls:
  cert: %s
  key: %s
upstreams:
  - name: docker.io
    url: %s
`, addr, adminAddr, filepath.Join(dir, "data"), certFile, keyFile, hub.URL()))
	startServe(t, dir, config)

	// The server is healthy once the check passes; before that it may
	// still be starting.
	deadline := time.Now().Add(readyTimeout)
	var code int
	var output string
	for time.Now().Before(deadline) {
		code, output = runHealthcheckArgs(t, "--config", config)
		if code == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != 0 || strings.TrimSpace(output) != "ok" {
		t.Fatalf("healthcheck --config with tls: exit %d, output %q; want 0 and ok", code, output)
	}

	// PULLCACHE_CONFIG names the file as --config does.
	cmd := exec.Command(pullcacheBinary, "healthcheck")
	cmd.Env = []string{"PULLCACHE_CONFIG=" + config}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("healthcheck with PULLCACHE_CONFIG: %v: %s", err, out)
	}

	// Plain HTTP to the HTTPS admin port is what fails without --config.
	if code, output := runHealthcheckArgs(t, "--admin", "http://"+adminAddr); code != 1 {
		t.Errorf("healthcheck over plain HTTP to the TLS admin port: exit %d, output %q; want 1", code, output)
	}
}

// runHealthcheckArgs runs the pullcache binary's healthcheck with args and
// returns its exit code and output.
func runHealthcheckArgs(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(pullcacheBinary, append([]string{"healthcheck"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	output, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil {
		t.Fatalf("run pullcache healthcheck: %v", err)
	}
	return cmd.ProcessState.ExitCode(), string(output)
}

// startServe starts `pullcache serve --config config` in dir and stops it
// with SIGTERM at cleanup.
func startServe(t *testing.T, dir, config string) {
	t.Helper()
	logPath := filepath.Join(dir, "pullcache.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	cmd := exec.Command(pullcacheBinary, "serve", "--config", config)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pullcache: %v", err)
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
			t.Logf("pullcache log:\n%s", tail(string(output), maxLogDump))
		}
	})
}

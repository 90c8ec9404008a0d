package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server is a mirror or file server that the harness runs as a separate
// process, or the upstream itself (no process).
type Server struct {
	Name    string
	URL     string // http://127.0.0.1:PORT
	Startup time.Duration

	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// PID returns the server's process id, or 0 for the in-process upstream.
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startProcess runs argv with its output in logPath and waits until
// readyPath returns 200.
func startProcess(ctx context.Context, name, url, readyPath, logPath string, argv ...string) (*Server, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log of %s: %w", name, err)
	}
	defer logFile.Close()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = filepath.Dir(logPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(logPath)}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// The server dies with the harness, even when the harness is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &Server{Name: name, URL: url, cmd: cmd, exited: make(chan struct{}), log: logPath}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()

	if err := s.waitReady(ctx, readyPath); err != nil {
		s.Stop()
		out, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%s: %w\nlog:\n%s", name, err, tail(string(out), 2000))
	}
	s.Startup = time.Since(start)
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, path string) error {
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return errors.New("exited before it was ready")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(s.URL + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("GET %s%s did not return 200 within 30s", s.URL, path)
}

// Stop sends SIGTERM, and SIGKILL after 10 seconds.
func (s *Server) Stop() {
	if s == nil || s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// ResetPeakMemory clears the process's peak resident set size (VmHWM), so
// that the next PeakMemory covers only what follows.
func (s *Server) ResetPeakMemory() {
	if pid := s.PID(); pid != 0 {
		// "5" resets VmHWM to the current RSS (proc(5), clear_refs).
		os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	}
}

// PeakMemory returns the process's VmHWM in bytes, or 0 for the upstream.
func (s *Server) PeakMemory() int64 { return s.procStatus("VmHWM:") }

// Memory returns the process's current VmRSS in bytes.
func (s *Server) Memory() int64 { return s.procStatus("VmRSS:") }

func (s *Server) procStatus(field string) int64 {
	pid := s.PID()
	if pid == 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// startPullcache runs pullcache on a fresh port with the filesystem store
// in dataDir and hubURL as docker.io.
func (e *Env) startPullcache(ctx context.Context, name, dataDir, hubURL, tagTTL string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.Scratch, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	config := fmt.Sprintf(`listen: %s
admin_listen: %s
storage:
  filesystem:
    root: %s
cache:
  tag_ttl: %s
upstreams:
  - name: docker.io
    url: %s
    default: true
`, addr, admin, dataDir, tagTTL, hubURL)
	configPath := filepath.Join(dir, "pullcache.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	return startProcess(ctx, name, "http://"+addr, "/v2/", filepath.Join(dir, "pullcache.log"),
		e.Pullcache, "serve", "--config", configPath)
}

// startRegistry runs docker-registry as a pull-through proxy of hubURL, with
// access logs off and log level error, so that logging does not slow it
// down.
func (e *Env) startRegistry(ctx context.Context, name, dataDir, hubURL string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.Scratch, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: %s
http:
  addr: %s
proxy:
  remoteurl: %s
`, dataDir, addr, hubURL)
	configPath := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	return startProcess(ctx, name, "http://"+addr, "/v2/", filepath.Join(dir, "registry.log"),
		e.Registry, "serve", configPath)
}

// startStatic runs the static file server on root.
func (e *Env) startStatic(ctx context.Context, name, root string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.Scratch, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return startProcess(ctx, name, "http://"+addr, "/healthz", filepath.Join(dir, "static.log"),
		e.Static, "-listen", addr, "-root", root)
}

func tail(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return s[len(s)-limit:]
}

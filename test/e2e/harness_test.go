package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/testproc"
)

const (
	// readyTimeout bounds the wait for a started pullcache to respond to GET /v2/.
	readyTimeout = 10 * time.Second
	// stopTimeout bounds the wait for pullcache to exit after SIGTERM or
	// SIGKILL. Its own shutdown grace is 30 s, but the tests leave no request
	// in flight when they stop it.
	stopTimeout = 15 * time.Second
	// startAttempts bounds the retries when a free port picked for a
	// server was taken before pullcache could bind it.
	startAttempts = 3
	// maxLogDump is how much of a log is printed when a test fails.
	maxLogDump = 64 << 10
)

// hubOptions are the hubsim settings a test can choose.
type hubOptions struct {
	// largeLayerSize is the size of library/big's layer. Zero means the
	// smallest layer hubsim makes.
	largeLayerSize int64
	// limit is the anonymous pull limit. Zero means Docker Hub's default.
	limit int
}

// testHub is a started hubsim with the standard content seeded.
type testHub struct {
	*hubsim.Hub
	std hubsim.Standard
}

// startHub starts hubsim with its registry on 127.0.0.1, its CDN on
// 127.0.0.2 and its token service on 127.0.0.3, seeds the standard images
// and closes it at cleanup.
func startHub(t *testing.T, opts hubOptions) *testHub {
	t.Helper()
	log := &lineLog{}
	hub := hubsim.New(hubsim.Options{
		Limit:     opts.limit,
		TokenAddr: "127.0.0.3:0",
		CDNAddr:   "127.0.0.2:0",
		Logf:      log.printf,
	})
	if err := hub.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start hubsim: %v", err)
	}
	t.Cleanup(func() {
		hub.Close()
		if t.Failed() {
			t.Logf("hubsim requests:\n%s", tail(log.String(), maxLogDump))
		}
	})

	std := hub.SeedStandard(opts.largeLayerSize)
	return &testHub{Hub: hub, std: std}
}

// mirrorConfig is the part of pullcache's configuration a test chooses.
type mirrorConfig struct {
	// tagTTL is cache.tag_ttl as YAML, such as "5m" or "0". Empty means
	// pullcache's default.
	tagTTL string
	// upstreamYAML is added to the docker.io upstream's entry: whole
	// lines, indented by four spaces.
	upstreamYAML string
	// cache holds more keys of the cache section as YAML lines, such as
	// "  max_size: 1MiB\n".
	cache string
	// upstreamsYAML, when set, replaces the upstreams section, whose
	// default is the hub as docker.io.
	upstreamsYAML string
	// extraYAML is appended to the configuration, for top-level keys
	// such as auth.
	extraYAML string
}

// mirror is a pullcache process serving from a data directory that
// survives restarts.
type mirror struct {
	t       *testing.T
	hubURL  string
	dataDir string
	logDir  string

	addr      string // HOST:PORT of the registry API
	adminAddr string // HOST:PORT of the admin listener
	cmd       *exec.Cmd
	exited    chan struct{} // closed when cmd has been waited for
	starts    int
}

// startMirror writes a configuration whose only upstream, docker.io, is
// the hub, starts pullcache with it and stops it at cleanup.
func startMirror(t *testing.T, hub *testHub, cfg mirrorConfig) *mirror {
	t.Helper()
	m := &mirror{
		t:       t,
		hubURL:  hub.URL(),
		dataDir: t.TempDir(),
		logDir:  t.TempDir(),
	}
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			m.dumpLogs()
		}
	})
	m.start(cfg)
	return m
}

// ref returns a client image reference to repo (with a tag or a digest)
// on the mirror, such as 127.0.0.1:PORT/library/alpine:3.20.
func (m *mirror) ref(repo string) string { return m.addr + "/" + repo }

// url returns the mirror's base URL.
func (m *mirror) url() string { return "http://" + m.addr }

// start starts pullcache on a free loopback port and waits until GET /v2/
// returns 200.
func (m *mirror) start(cfg mirrorConfig) {
	m.t.Helper()
	var lastErr error
	for attempt := range startAttempts {
		// A restart tries the previous addresses first, as a restarted
		// mirror keeps its address for its clients.
		addr, adminAddr := m.addr, m.adminAddr
		if attempt > 0 || addr == "" {
			var err error
			addr, adminAddr, err = freeAddrs()
			if err != nil {
				m.t.Fatalf("pick free ports: %v", err)
			}
		}
		lastErr = m.startOn(addr, adminAddr, cfg)
		if lastErr == nil {
			return
		}
		if !errors.Is(lastErr, errPortTaken) {
			break
		}
	}
	m.t.Fatalf("start pullcache: %v", lastErr)
}

var errPortTaken = errors.New("listen address already in use")

func (m *mirror) startOn(addr, adminAddr string, cfg mirrorConfig) error {
	configPath := filepath.Join(m.logDir, fmt.Sprintf("pullcache-%d.yaml", m.starts+1))
	writeFile(m.t, configPath, m.configYAML(addr, adminAddr, cfg))

	m.starts++
	cmd := exec.Command(pullcacheBinary, "serve", "--config", configPath)
	cmd.Dir = m.logDir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + m.logDir}
	return m.launch(cmd, addr, adminAddr)
}

// launch starts cmd, a pullcache serve listening on addr and adminAddr,
// with its output in the log of this start, and waits until it is ready
// (see waitReady).
func (m *mirror) launch(cmd *exec.Cmd, addr, adminAddr string) error {
	logPath := filepath.Join(m.logDir, fmt.Sprintf("pullcache-%d.log", m.starts))
	p, err := testproc.Start("pullcache", cmd, logPath)
	if err != nil {
		return err
	}
	m.cmd, m.exited, m.addr, m.adminAddr = p.Cmd, p.Exited, addr, adminAddr

	if err := m.waitReady(); err != nil {
		m.stop()
		output, _ := os.ReadFile(logPath)
		if strings.Contains(string(output), "address already in use") {
			return fmt.Errorf("%w: %s", errPortTaken, addr)
		}
		return fmt.Errorf("%w\nlog:\n%s", err, output)
	}
	return nil
}

func (m *mirror) configYAML(addr, adminAddr string, cfg mirrorConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\n", addr)
	fmt.Fprintf(&b, "admin_listen: %s\n", adminAddr)
	fmt.Fprintf(&b, "storage:\n  filesystem:\n    root: %s\n", m.dataDir)
	if cfg.tagTTL != "" || cfg.cache != "" {
		b.WriteString("cache:\n")
	}
	if cfg.tagTTL != "" {
		fmt.Fprintf(&b, "  tag_ttl: %s\n", cfg.tagTTL)
	}
	b.WriteString(cfg.cache)
	b.WriteString(cfg.extraYAML)
	if cfg.upstreamsYAML != "" {
		b.WriteString(cfg.upstreamsYAML)
		return b.String()
	}
	fmt.Fprintf(&b, "upstreams:\n  - name: docker.io\n    url: %s\n    default: true\n", m.hubURL)
	b.WriteString(cfg.upstreamYAML)
	return b.String()
}

// waitReady polls GET /v2/ until it returns 200, or 401 when client
// authentication is on, the process exits or readyTimeout passes.
func (m *mirror) waitReady() error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()

	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-m.exited:
			return fmt.Errorf("pullcache exited before it responded to GET /v2/ (%s)", m.cmd.ProcessState)
		default:
		}
		resp, err := client.Get(m.url() + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("GET %s/v2/ did not return 200 within %s", m.url(), readyTimeout)
}

// restart stops pullcache with SIGTERM and starts it again on the same
// data directory with cfg, on the same address unless it was taken
// meanwhile.
func (m *mirror) restart(cfg mirrorConfig) {
	m.t.Helper()
	m.stop()
	m.start(cfg)
}

// stop sends SIGTERM and waits for the process to exit. A process that
// does not exit within stopTimeout is killed, and the test fails.
func (m *mirror) stop() {
	m.t.Helper()
	if m.cmd == nil {
		return
	}
	select {
	case <-m.exited:
	default:
		m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(stopTimeout):
			m.t.Errorf("pullcache (pid %d) did not exit within %s of SIGTERM; killing it", m.cmd.Process.Pid, stopTimeout)
			m.kill()
		}
	}
	m.cmd = nil
}

// kill sends SIGKILL and waits for the process to exit.
func (m *mirror) kill() {
	m.t.Helper()
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-m.exited:
	case <-time.After(stopTimeout):
		m.t.Fatalf("pullcache (pid %d) did not exit within %s of SIGKILL", m.cmd.Process.Pid, stopTimeout)
	}
	m.cmd = nil
}

// dumpLogs prints the log of every process this mirror started.
func (m *mirror) dumpLogs() {
	for i := 1; i <= m.starts; i++ {
		output, err := os.ReadFile(filepath.Join(m.logDir, fmt.Sprintf("pullcache-%d.log", i)))
		if err != nil {
			m.t.Logf("pullcache log %d: %v", i, err)
			continue
		}
		m.t.Logf("pullcache log %d:\n%s", i, tail(string(output), maxLogDump))
	}
}

// blobPath returns where the store keeps the blob with the given hex
// sha256 digest.
func (m *mirror) blobPath(hex string) string {
	return filepath.Join(m.dataDir, "blobs", "sha256", hex)
}

// freeAddrs returns two different loopback addresses, for the registry API
// and the admin listener, that were free a moment ago.
func freeAddrs() (addr, adminAddr string, err error) {
	first, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", err
	}
	defer first.Close()
	second, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", err
	}
	defer second.Close()
	return first.Addr().String(), second.Addr().String(), nil
}

// lineLog collects log lines from goroutines that may outlive a test, so
// they are printed only when the test fails.
type lineLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lineLog) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format, args...)
	l.b.WriteByte('\n')
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tail returns the last limit bytes of s.
func tail(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return "[…]" + s[len(s)-limit:]
}

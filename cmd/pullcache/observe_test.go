package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/logging"
	"github.com/pullcache/pullcache/internal/status"
	"github.com/pullcache/pullcache/internal/upstream"
)

// artifactsEnv names a folder where tests leave files for people to look
// at, such as the status page's screenshot. Unset, a temporary folder is
// used and its path logged.
const artifactsEnv = "PULLCACHE_TEST_ARTIFACTS"

// served is a `pullcache serve` running in this process.
type served struct {
	t        *testing.T
	mirror   string // base URL of the registry listener
	admin    string // base URL of the admin listener
	data     string
	stop     context.CancelFunc
	finished chan error
	once     sync.Once
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServe runs serve with docker.io pointed at hubURL and waits until
// /readyz returns 200.
func startServe(t *testing.T, hubURL, data string) *served {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	listen, adminListen := freeAddr(t), freeAddr(t)
	config := fmt.Sprintf("listen: %s\nadmin_listen: %s\nstorage:\n  filesystem:\n    root: %s\nupstreams:\n  - name: docker.io\n    url: %s\n    default: true\n",
		listen, adminListen, data, hubURL)
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &served{t: t, mirror: "http://" + listen, admin: "http://" + adminListen, data: data, stop: cancel, finished: make(chan error, 1)}
	go func() { s.finished <- runServe(ctx, serveFlags{config: file}) }()
	t.Cleanup(func() { s.shutdown() })

	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := s.get(s.admin + "/readyz"); code == http.StatusOK {
			return s
		}
		select {
		case err := <-s.finished:
			t.Fatalf("serve ended at start-up: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shutdown stops serve as SIGTERM does and waits for it to end.
func (s *served) shutdown() {
	s.once.Do(func() {
		s.stop()
		select {
		case err := <-s.finished:
			if err != nil {
				s.t.Errorf("serve: %v", err)
			}
		case <-time.After(40 * time.Second):
			s.t.Errorf("serve did not stop within 40s")
		}
	})
}

func (s *served) get(url string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Accept", hubsim.AllManifestTypes)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// pull sends a GET to the mirror and checks its status and X-Cache-Status.
func (s *served) pull(path string, wantCode int, wantCache string) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.mirror+path, nil)
	req.Header.Set("Accept", hubsim.AllManifestTypes)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != wantCode || resp.Header.Get("X-Cache-Status") != wantCache {
		s.t.Fatalf("GET %s = %d %q, want %d %q", path, resp.StatusCode, resp.Header.Get("X-Cache-Status"), wantCode, wantCache)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		s.t.Errorf("GET %s: no X-Request-Id", path)
	}
}

func (s *served) waitStored(d digest.Digest) {
	s.t.Helper()
	path := filepath.Join(s.data, "blobs", "sha256", d.Encoded())
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("blob %s not stored after 10s", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *served) report() status.Report {
	s.t.Helper()
	code, body := s.get(s.admin + "/status.json")
	if code != http.StatusOK {
		s.t.Fatalf("/status.json = %d: %s", code, body)
	}
	var r status.Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		s.t.Fatalf("/status.json: %v", err)
	}
	return r
}

// pullSequence is the known sequence of pulls the tests check against:
// alpine fetched once and pulled again from the store, a missing
// repository, and a tag whose upstream returns 503.
func pullSequence(t *testing.T, s *served, hub *hubsim.Hub, alpine hubsim.Image) (blobs []digest.Digest) {
	t.Helper()
	blobs = append(blobs, alpine.Config.Digest)
	for _, l := range alpine.Layers {
		blobs = append(blobs, l.Digest)
	}
	s.pull("/v2/", http.StatusOK, "")
	s.pull("/v2/alpine/manifests/"+alpine.Tag, http.StatusOK, "MISS")
	s.pull("/v2/alpine/manifests/"+alpine.Digest.String(), http.StatusOK, "HIT")
	for _, d := range blobs {
		s.pull("/v2/alpine/blobs/"+d.String(), http.StatusOK, "MISS")
		s.waitStored(d)
	}
	s.pull("/v2/alpine/manifests/"+alpine.Tag, http.StatusOK, "HIT")
	for _, d := range blobs {
		s.pull("/v2/alpine/blobs/"+d.String(), http.StatusOK, "HIT")
	}
	s.pull("/v2/nosuchrepo/manifests/latest", http.StatusNotFound, "")
	// The fault outlasts the client's retries of a 5xx.
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultServerError, Target: hubsim.TargetManifests, Repo: hubsim.MovingRepo, Count: upstream.DefaultMaxAttempts})
	s.pull("/v2/moving/manifests/v1", http.StatusServiceUnavailable, "")
	return blobs
}

func startStandardHub(t *testing.T) (*hubsim.Hub, hubsim.Standard) {
	t.Helper()
	hub := hubsim.New(hubsim.Options{})
	if err := hub.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start hubsim: %v", err)
	}
	t.Cleanup(hub.Close)
	return hub, hub.SeedStandard(0)
}

// TestServeObservability runs serve against hubsim, makes a known sequence
// of pulls, and checks /metrics, /status.json, `pullcache status`, the
// readiness states and that the history survives a restart.
func TestServeObservability(t *testing.T) {
	hub, std := startStandardHub(t)
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, hub.URL(), data)
	blobs := pullSequence(t, s, hub, std.Alpine)
	n := float64(len(blobs))
	identity := "127.0.0.1"

	// /metrics counts what the hub counted.
	code, text := s.get(s.admin + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	stats := hub.Stats()
	for _, want := range []string{
		fmt.Sprintf(`pullcache_upstream_ratelimit_remaining{source="%s",upstream="docker.io"} %d`, identity, hub.Remaining(identity)),
		fmt.Sprintf(`pullcache_client_requests_total{cache_status="HIT",kind="blob",method="GET",upstream="docker.io"} %d`, len(blobs)),
		fmt.Sprintf(`pullcache_upstream_requests_total{code="200",kind="manifest",method="GET",upstream="docker.io"} %d`, stats.PullsBy(identity)),
		fmt.Sprintf(`pullcache_upstream_requests_total{code="503",kind="manifest",method="GET",upstream="docker.io"} %d`, upstream.DefaultMaxAttempts),
		fmt.Sprintf(`pullcache_upstream_retries_total{kind="manifest",reason="unavailable",upstream="docker.io"} %d`, upstream.DefaultMaxAttempts-1),
		fmt.Sprintf(`pullcache_build_info{version="%s"} 1`, currentVersion()),
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// /status.json has the same numbers.
	r := s.report()
	hubReport := r.Upstreams[0]
	if hubReport.PullsAnswered != 3 || hubReport.PullsSpent != float64(stats.PullsBy(identity)) || hubReport.PullsSaved != 3-hubReport.PullsSpent {
		t.Errorf("status: %v answered, %v spent, %v saved; want 3 answered and the hub's %d pulls spent", hubReport.PullsAnswered, hubReport.PullsSpent, hubReport.PullsSaved, stats.PullsBy(identity))
	}
	if hubReport.RateLimit == nil || hubReport.RateLimit.Remaining != hub.Remaining(identity) || hubReport.RateLimit.Limit != hubsim.DefaultLimit {
		t.Errorf("status rate limit %+v, want %d of %d", hubReport.RateLimit, hub.Remaining(identity), hubsim.DefaultLimit)
	}
	if want := (2 + n) / (2 + n + 1 + n); r.HitRatio != want {
		t.Errorf("status hit ratio %v, want %v", r.HitRatio, want)
	}
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Error, "503") || r.Errors[0].RequestID == "" {
		t.Errorf("status errors %+v, want the 503 first, with its request id", r.Errors)
	}

	// The terminal shows them too.
	out, err := runCommand(t, "status", "--admin", s.admin)
	if err != nil {
		t.Fatalf("pullcache status: %v\n%s", err, out)
	}
	row := regexp.MustCompile(`(?m)^docker\.io\s+3\s+1\s+2\s+` + fmt.Sprint(hub.Remaining(identity)) + ` of 100\s`)
	if !row.MatchString(out) || !strings.Contains(out, "hit ratio") {
		t.Errorf("pullcache status output lacks the docker.io row (3 answered, 1 spent, 2 saved):\n%s", out)
	}

	// Readiness follows the data folder.
	if err := os.Rename(data, data+".moved"); err != nil {
		t.Fatal(err)
	}
	code, body := s.get(s.admin + "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "data folder") {
		t.Errorf("data folder missing: /readyz = %d %q, want 503 naming the data folder", code, body)
	}
	if code, _ := s.get(s.admin + "/healthz"); code != http.StatusOK {
		t.Errorf("data folder missing: /healthz = %d, want 200", code)
	}
	if err := os.Rename(data+".moved", data); err != nil {
		t.Fatal(err)
	}
	if code, body := s.get(s.admin + "/readyz"); code != http.StatusOK {
		t.Errorf("data folder back: /readyz = %d %q, want 200", code, body)
	}

	// While a slow pull drains at shutdown, /readyz fails.
	big := std.Big
	s.pull("/v2/big/manifests/latest", http.StatusOK, "MISS")
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultSlow, Target: hubsim.TargetBlobs, Count: 1, Delay: 100 * time.Millisecond, ChunkSize: int(big.Layers[0].Size/10) + 1})
	slow := make(chan int, 1)
	go func() {
		code, _ := s.get(s.mirror + "/v2/big/blobs/" + big.Layers[0].Digest.String())
		slow <- code
	}()
	waitUntil(t, "the slow pull to start", func() bool { return hub.Stats().BlobGetsByDigest[big.Layers[0].Digest] > 0 })
	s.stop()
	waitUntil(t, "/readyz to fail during shutdown", func() bool {
		code, _ := s.get(s.admin + "/readyz")
		return code == http.StatusServiceUnavailable
	})
	if code := <-slow; code != http.StatusOK {
		t.Errorf("slow pull during shutdown: %d, want 200", code)
	}
	s.shutdown()

	// After a restart the totals and the history are still there.
	if _, err := os.Stat(filepath.Join(data, "status", "history.json")); err != nil {
		t.Fatalf("history not saved at shutdown: %v", err)
	}
	s2 := startServe(t, hub.URL(), data)
	r2 := s2.report()
	if got := r2.Upstreams[0]; got.PullsAnswered != 4 || len(got.History) < 2 || !r2.Since.Equal(r.Since) {
		t.Errorf("after restart: %v answered (want 4: 3 plus library/big), %d history points (want the saved one and now), since %v (want %v)",
			got.PullsAnswered, len(got.History), r2.Since, r.Since)
	}
	if r2.Store.Objects == 0 {
		t.Errorf("after restart: store usage %+v, want the stored objects", r2.Store)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStatusPageInChromium loads the status page in headless Chromium
// after a known sequence of pulls, checks the numbers it shows and saves
// a screenshot.
func TestStatusPageInChromium(t *testing.T) {
	browser := requireChromium(t)
	hub, std := startStandardHub(t)
	s := startServe(t, hub.URL(), filepath.Join(t.TempDir(), "data"))
	blobs := pullSequence(t, s, hub, std.Alpine)
	n := len(blobs)

	dom := runChromium(t, browser, "--dump-dom", s.admin+"/")
	want := map[string]string{
		"docker.io-answered":  "3",
		"docker.io-spent":     fmt.Sprint(hub.PullsBy("127.0.0.1")),
		"docker.io-remaining": fmt.Sprint(hub.Remaining("127.0.0.1")),
		"docker.io-limit":     fmt.Sprint(hubsim.DefaultLimit),
		"requests-HIT":        fmt.Sprint(2 + n),
		"requests-MISS":       fmt.Sprint(1 + n),
		"requests-error":      "2",
		"hit-ratio":           fmt.Sprintf("%.1f%%", 100*float64(2+n)/float64(2+n+1+n)),
	}
	for id, value := range want {
		if got := elementText(dom, id); got != value {
			t.Errorf("status page #%s shows %q, want %q", id, got, value)
		}
	}
	if !strings.Contains(dom, "<polyline") || !strings.Contains(dom, "upstream 503") && !strings.Contains(dom, "503") {
		t.Errorf("status page lacks its chart lines or the 503 in the latest errors")
	}

	dir := os.Getenv(artifactsEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "status-page.png")
	runChromium(t, browser, "--screenshot="+shot, "--window-size=1366,900", s.admin+"/")
	info, err := os.Stat(shot)
	if err != nil || info.Size() < 10<<10 {
		t.Fatalf("screenshot %s: %v, size %d; want a picture of the page", shot, err, sizeOf(info))
	}
	t.Logf("status page screenshot: %s", shot)
}

func sizeOf(info os.FileInfo) int64 {
	if info == nil {
		return 0
	}
	return info.Size()
}

// elementText returns the text right inside the element with the given id.
func elementText(dom, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(dom)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// requireChromium returns Chromium's path. It also requires a network
// namespace with only loopback, because Chromium looks up names and probes
// for IPv6 on start even with the flags in runChromium that disable
// background networking.
func requireChromium(t *testing.T) string {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}

	path, err := exec.LookPath("chromium")
	if err != nil {
		skip("chromium is not installed (scripts/install-test-tools.sh installs it)")
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatalf("list network interfaces: %v", err)
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp != 0 && iface.Flags&net.FlagLoopback == 0 {
			skip("network interface %s is up: run this test in a namespace with only loopback, as scripts/test.sh does", iface.Name)
		}
	}
	return path
}

// runChromium runs headless Chromium with a fresh profile and returns its
// standard output.
func runChromium(t *testing.T, browser string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	profile := t.TempDir()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile}
	cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) || ctx.Err() != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		t.Fatalf("run chromium: %v", err)
	}
	return string(out)
}

func TestSettingsLogMasksPasswords(t *testing.T) {
	cfg, err := loadServeConfig(serveFlags{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Upstreams[0].Username = "mirror-bot"
	cfg.Upstreams[0].Password = "s3cret-literal"

	var out strings.Builder
	logger := newTestLogger(&out)
	logger.Info("pullcache started", settingsAttr(cfg))
	line := out.String()
	if strings.Contains(line, "s3cret-literal") {
		t.Errorf("start log contains the password: %s", line)
	}
	for _, want := range []string{"config.upstreams.0.username=mirror-bot", "config.upstreams.0.password=", "config.listen=127.0.0.1:5000"} {
		if !strings.Contains(line, want) {
			t.Errorf("start log lacks %s: %s", want, line)
		}
	}
}

func newTestLogger(w io.Writer) *slog.Logger {
	return logging.New(w, logging.Options{})
}

func TestStatusCommandNamesAdminFlag(t *testing.T) {
	addr := freeAddr(t) // nothing listens there any more
	_, err := runCommand(t, "status", "--admin", "http://"+addr)
	if err == nil || !strings.Contains(err.Error(), "--admin") {
		t.Errorf("status with no server: %v, want an error that points at --admin", err)
	}
}

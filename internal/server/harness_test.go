package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/server"
	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/fs"
	"github.com/pullcache/pullcache/internal/testclock"
	"github.com/pullcache/pullcache/internal/testlog"
	"github.com/pullcache/pullcache/internal/upstream"
)

// defaultTagTTL is cache.tag_ttl's default, so that the tests advance the
// clock past the same window a default configuration uses.
const defaultTagTTL = 5 * time.Minute

// testClock is the injectable time source shared by the hub, the upstream
// client and the cache, so that tag TTLs, token expiry and presigned URL
// expiry move together without waiting.
type testClock = testclock.Clock

func newTestClock() *testClock {
	return testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
}

// extraUpstream is an upstream configured next to docker.io.
type extraUpstream struct {
	name string
	url  string
}

// mirrorConfig selects what a test changes from the default setup: one
// hubsim as docker.io, default upstream, tag TTL of five minutes.
type mirrorConfig struct {
	// hub configures the Docker Hub stand-in. The harness sets Clock and Logf.
	hub hubsim.Options
	// tagTTL is the docker.io upstream's tag TTL; zero means defaultTagTTL.
	tagTTL time.Duration
	// authoritative sets cache.upstream_authoritative.
	authoritative bool
	// upstreamTimeout is the upstream client's connect and idle-read
	// timeout; zero means 5 s, short enough to bound a test.
	upstreamTimeout time.Duration
	// wrapStore, when set, wraps the filesystem store, for storage faults.
	wrapStore func(storage.Store) storage.Store
	// frontHub, when set, returns the URL the mirror uses for docker.io in
	// place of the hub's own, for a proxy in front of the hub.
	frontHub func(hubURL string) string
	// extra lists further upstreams.
	extra []extraUpstream
	// route, when set, changes each upstream's routing entry, for example
	// to set allow and deny patterns.
	route func(*server.Upstream)
	// auth, when set, turns client authentication on.
	auth *server.Auth
}

// mirror is a running pullcache in front of a running hubsim.
type mirror struct {
	t      *testing.T
	clock  *testClock
	hub    *hubsim.Hub
	std    hubsim.Standard
	store  *fs.FS
	srv    *httptest.Server
	client *http.Client
	logs   *testlog.Buffer
}

// newMirror starts a hubsim on loopback with the standard content and
// wires the store, upstream client, cache and server as the serve command
// does, with the test clock injected.
func newMirror(t *testing.T, cfg mirrorConfig) *mirror {
	t.Helper()
	m := &mirror{t: t, clock: newTestClock(), logs: &testlog.Buffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hub and mirror log:\n%s", m.logs.String())
		}
	})

	hubOpts := cfg.hub
	hubOpts.Clock = m.clock.Now
	hubOpts.Logf = func(format string, args ...any) { fmt.Fprintf(m.logs, format+"\n", args...) }
	m.hub = hubsim.New(hubOpts)
	if err := m.hub.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start hubsim: %v", err)
	}
	t.Cleanup(m.hub.Close)
	m.std = m.hub.SeedStandard(0)

	hubURL := m.hub.URL()
	if cfg.frontHub != nil {
		hubURL = cfg.frontHub(hubURL)
	}
	upstreams := append([]extraUpstream{{name: "docker.io", url: hubURL}}, cfg.extra...)
	m.start(cfg, upstreams)
	return m
}

func (m *mirror) start(cfg mirrorConfig, upstreams []extraUpstream) {
	t := m.t
	t.Helper()
	log := slog.New(slog.NewTextHandler(m.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	root := t.TempDir()
	store, err := fs.New(root, log)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	unlock, err := store.Lock()
	if err != nil {
		t.Fatalf("lock store: %v", err)
	}
	t.Cleanup(func() {
		if err := unlock(); err != nil {
			t.Errorf("unlock store: %v", err)
		}
	})
	t.Cleanup(func() { m.waitForWrites() })
	m.store = store

	timeout := cfg.upstreamTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	tagTTL := cfg.tagTTL
	if tagTTL == 0 {
		tagTTL = defaultTagTTL
	}

	remotes := make(map[string]cache.Remote)
	var routes []server.Upstream
	for _, u := range upstreams {
		client, err := upstream.New(upstream.Options{
			Name:            u.name,
			URL:             u.url,
			ConnectTimeout:  timeout,
			IdleReadTimeout: timeout,
			Logger:          log.With(slog.String("upstream", u.name)),
			Clock:           m.clock.Now,
		})
		if err != nil {
			t.Fatalf("create upstream client %s: %v", u.name, err)
		}
		remotes[u.name] = cache.Remote{Client: client, TagTTL: tagTTL}
		route := server.Upstream{Name: u.name, Default: u.name == "docker.io", DockerHub: u.name == "docker.io"}
		if cfg.route != nil {
			cfg.route(&route)
		}
		routes = append(routes, route)
	}

	var cacheStore storage.Store = store
	if cfg.wrapStore != nil {
		cacheStore = cfg.wrapStore(store)
	}
	c, err := cache.New(cache.Options{
		Store:                 cacheStore,
		SpoolDir:              filepath.Join(store.Root(), ".tmp"),
		Remotes:               remotes,
		UpstreamAuthoritative: cfg.authoritative,
		Logger:                log,
		Clock:                 m.clock.Now,
	})
	if err != nil {
		t.Fatalf("create cache: %v", err)
	}

	m.srv = httptest.NewServer(server.New(server.Options{Cache: c, Upstreams: routes, Logger: log, Auth: cfg.auth}))
	t.Cleanup(m.srv.Close)
	transport := &http.Transport{DisableCompression: true}
	m.client = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	t.Cleanup(transport.CloseIdleConnections)
}

// waitForWrites waits, for at most ten seconds, until no store write is in
// progress, because a blob fetch goes on after its client left and must not
// write into a directory that the test is removing.
func (m *mirror) waitForWrites() {
	tmp := filepath.Join(m.store.Root(), ".tmp")
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries, err := os.ReadDir(tmp)
		if err != nil || len(entries) == 0 {
			return
		}
		if time.Now().After(deadline) {
			m.t.Errorf("store writes still in progress 10s after the test: %d files in .tmp", len(entries))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// response is a mirror response with its body read to the end or to the
// failure that cut it.
type response struct {
	status int
	header http.Header
	body   []byte
	// readErr is the error that ended the body early, such as an aborted
	// transfer.
	readErr error
	// contentLength is the response's Content-Length, -1 when absent.
	contentLength int64
	elapsed       time.Duration
}

// header returns an http.Header from name, value pairs.
func header(pairs ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
	return h
}

// acceptAll is the Accept header of a modern client: the four manifest types.
func acceptAll() http.Header { return header("Accept", hubsim.AllManifestTypes) }

func (m *mirror) get(path string, h http.Header) response {
	m.t.Helper()
	return m.do(http.MethodGet, path, h)
}

func (m *mirror) head(path string, h http.Header) response {
	m.t.Helper()
	return m.do(http.MethodHead, path, h)
}

// do sends one request to the mirror and checks the headers every
// response must carry.
func (m *mirror) do(method, path string, h http.Header) response {
	m.t.Helper()
	req, err := http.NewRequest(method, m.srv.URL+path, nil)
	if err != nil {
		m.t.Fatalf("build %s %s: %v", method, path, err)
	}
	for name, values := range h {
		req.Header[name] = values
	}

	start := time.Now()
	resp, err := m.client.Do(req)
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	body, readErr := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := response{
		status:        resp.StatusCode,
		header:        resp.Header,
		body:          body,
		readErr:       readErr,
		contentLength: resp.ContentLength,
		elapsed:       time.Since(start),
	}

	if got := resp.Header.Get("Docker-Distribution-API-Version"); got != "registry/2.0" {
		m.t.Errorf("%s %s: Docker-Distribution-API-Version is %q, want registry/2.0 on every response", method, path, got)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		m.t.Errorf("%s %s: no X-Request-Id header; every response must carry one", method, path)
	}
	if method == http.MethodHead && len(body) != 0 {
		m.t.Errorf("HEAD %s: %d body bytes, want none", path, len(body))
	}
	return r
}

// ociError decodes an OCI error body and returns its first code and message.
func ociError(t *testing.T, r response) (code, message string) {
	t.Helper()
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Errorf("error body %q is not an OCI error body: %v", r.body, err)
		return "", ""
	}
	if len(body.Errors) == 0 {
		t.Errorf("error body %q has no errors entry", r.body)
		return "", ""
	}
	return body.Errors[0].Code, body.Errors[0].Message
}

// expectError checks status and OCI error code of a GET response.
func expectError(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d, want %d (body %q)", what, r.status, status, r.body)
		return
	}
	if got, _ := ociError(t, r); got != code {
		t.Errorf("%s: error code %q, want %q", what, got, code)
	}
}

func manifestPath(repo, ref string) string { return "/v2/" + repo + "/manifests/" + ref }

func blobPath(repo string, d digest.Digest) string { return "/v2/" + repo + "/blobs/" + d.String() }

// hubRequests returns the number of requests the hub received on all its
// listeners, whatever the response status.
func hubRequests(h *hubsim.Hub) int {
	total := 0
	for _, n := range h.Stats().Requests {
		total += n
	}
	return total
}

// storedBlob returns the size of the blob committed in the store under the
// architecture's layout, blobs/<alg>/<hex>.
func (m *mirror) storedBlob(d digest.Digest) (int64, bool) {
	info, err := m.store.Stat(context.Background(), "blobs/"+d.Algorithm().String()+"/"+d.Encoded())
	if errors.Is(err, storage.ErrNotFound) {
		return 0, false
	}
	if err != nil {
		m.t.Fatalf("stat stored blob %s: %v", d, err)
	}
	return info.Size, true
}

// storedBlobKeys lists every committed object under blobs/.
func (m *mirror) storedBlobKeys() []string {
	var keys []string
	err := m.store.Walk(context.Background(), "blobs/", func(key string, _ storage.Info) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		m.t.Fatalf("walk stored blobs: %v", err)
	}
	return keys
}

// waitForBlob waits, for at most ten seconds, until the blob is committed.
func (m *mirror) waitForBlob(d digest.Digest) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := m.storedBlob(d); ok {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// randomBytes returns n bytes from a fixed seed, so failures reproduce.
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	data := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		data[i] = byte(rng.Uint32())
	}
	return data
}

func sha256Digest(data []byte) digest.Digest {
	sum := sha256.Sum256(data)
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(sum[:]))
}

// imageBlobs returns the config and layer digests of a seeded image.
func imageBlobs(img hubsim.Image) []digest.Digest {
	blobs := []digest.Digest{img.Config.Digest}
	for _, layer := range img.Layers {
		blobs = append(blobs, layer.Digest)
	}
	return blobs
}

// pullImage makes the full pull a client makes: the tag, the manifest by
// digest and every blob, each checked for status 200 and its digest.
func (m *mirror) pullImage(name string, img hubsim.Image) {
	m.t.Helper()
	tag := m.get(manifestPath(name, img.Tag), acceptAll())
	if tag.status != http.StatusOK {
		m.t.Fatalf("pull %s:%s: status %d (body %q)", name, img.Tag, tag.status, tag.body)
	}
	byDigest := m.get(manifestPath(name, img.Digest.String()), acceptAll())
	if byDigest.status != http.StatusOK {
		m.t.Fatalf("pull %s@%s: status %d", name, img.Digest, byDigest.status)
	}
	for _, d := range imageBlobs(img) {
		blob := m.get(blobPath(name, d), nil)
		if blob.status != http.StatusOK || sha256Digest(blob.body) != d {
			m.t.Fatalf("pull blob %s of %s: status %d, digest %s", d, name, blob.status, sha256Digest(blob.body))
		}
	}
}

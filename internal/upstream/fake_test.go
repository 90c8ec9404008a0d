package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/testclock"
)

// Loopback addresses standing in for separate hosts.
const (
	registryIP = "127.0.0.1"
	cdnIP      = "127.0.0.2"
	tokenIP    = "127.0.0.3"
)

// startServer starts h on ip with a free port. Handlers that block should
// also wait on release, which is closed before the server shuts down.
func startServer(t *testing.T, ip string, h http.Handler) *httptest.Server {
	t.Helper()

	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}

	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)

	return srv
}

// release returns a channel closed at cleanup, before servers started
// earlier in the test shut down, so stalled handlers can end.
func release(t *testing.T) <-chan struct{} {
	ch := make(chan struct{})
	t.Cleanup(func() { close(ch) })

	return ch
}

type fakeManifest struct {
	mediaType  string
	body       []byte
	omitDigest bool          // no Docker-Content-Digest
	digest     digest.Digest // sent instead of the real digest when set
}

type tokenRequest struct {
	scope   string
	service string
	user    string // "" when anonymous
}

// fakeRegistry is a scripted registry with an optional token service, in
// the shape of Docker Hub. /v2/ returns a challenge without scope, the
// token service issues a token for any scope, and the registry returns 401
// insufficient_scope for repositories the token does not cover.
type fakeRegistry struct {
	t        *testing.T
	srv      *httptest.Server
	tokenSrv *httptest.Server

	mu           sync.Mutex
	auth         string            // "bearer", "basic" or "none"
	users        map[string]string // accepted credentials; nil accepts anonymous
	expiresIn    int               // 0 omits expires_in
	deny         map[string]bool   // repositories whose tokens grant nothing
	issued       map[string]string // token → scope
	tokenCount   int
	tokenLog     []tokenRequest
	requests     []*http.Request
	manifests    map[string]fakeManifest // "repo:ref"
	blobs        map[digest.Digest][]byte
	tokenHandler func(w http.ResponseWriter, r *http.Request) bool // returns true when it wrote a response
	handler      func(w http.ResponseWriter, r *http.Request) bool // returns true when it wrote a response
}

func newFakeRegistry(t *testing.T, auth string) *fakeRegistry {
	t.Helper()

	f := &fakeRegistry{
		t:         t,
		auth:      auth,
		deny:      map[string]bool{},
		issued:    map[string]string{},
		manifests: map[string]fakeManifest{},
		blobs:     map[digest.Digest][]byte{},
	}

	f.srv = startServer(t, registryIP, http.HandlerFunc(f.serveRegistry))
	if auth == "bearer" {
		f.tokenSrv = startServer(t, tokenIP, http.HandlerFunc(f.serveToken))
	}

	return f
}

func (f *fakeRegistry) URL() string { return f.srv.URL }

func (f *fakeRegistry) addManifest(repo, ref string, m fakeManifest) digest.Digest {
	f.mu.Lock()
	defer f.mu.Unlock()

	d := digest.FromBytes(m.body)
	f.manifests[repo+":"+ref] = m
	f.manifests[repo+":"+d.String()] = m

	return d
}

func (f *fakeRegistry) tokens() int {
	f.mu.Lock()
	defer f.mu.Unlock()

	return f.tokenCount
}

func (f *fakeRegistry) tokenRequests() []tokenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()

	return append([]tokenRequest(nil), f.tokenLog...)
}

// revokeTokens makes every issued token invalid, as a registry does when
// tokens expire on its side.
func (f *fakeRegistry) revokeTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.issued = map[string]string{}
}

// registryRequests returns the recorded requests other than the ping.
func (f *fakeRegistry) registryRequests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()

	var out []*http.Request
	for _, r := range f.requests {
		if r.URL.Path != "/v2/" {
			out = append(out, r)
		}
	}

	return out
}

func (f *fakeRegistry) serveToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hook := f.tokenHandler
	f.mu.Unlock()
	if hook != nil && hook(w, r) {
		return
	}

	f.mu.Lock()
	defer f.mu.Unlock()

	user, pass, hasBasic := r.BasicAuth()
	f.tokenLog = append(f.tokenLog, tokenRequest{scope: r.URL.Query().Get("scope"), service: r.URL.Query().Get("service"), user: user})

	if f.users != nil && (!hasBasic || f.users[user] != pass) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"details":"incorrect username or password"}`))
		return
	}

	f.tokenCount++
	token := fmt.Sprintf("token-%d", f.tokenCount)
	f.issued[token] = r.URL.Query().Get("scope")

	resp := map[string]any{"token": token, "issued_at": time.Now().UTC().Format(time.RFC3339)}
	if f.expiresIn > 0 {
		resp["expires_in"] = f.expiresIn
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (f *fakeRegistry) serveRegistry(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Clone(r.Context()))
	hook := f.handler
	f.mu.Unlock()

	if hook != nil && hook(w, r) {
		return
	}

	repo, kind, ref := splitRegistryPath(r.URL.Path)
	if !f.authorized(w, r, repo) {
		return
	}

	switch kind {
	case "":
		w.WriteHeader(http.StatusOK)
	case "manifests":
		f.serveManifest(w, r, repo, ref)
	case "blobs":
		f.serveBlob(w, r, digest.Digest(ref))
	default:
		writeOCIError(w, http.StatusNotFound, "NAME_UNKNOWN", "not served by the fake")
	}
}

// authorized writes a 401 and returns false unless r may read repo.
func (f *fakeRegistry) authorized(w http.ResponseWriter, r *http.Request, repo string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()

	switch f.auth {
	case "basic":
		user, pass, ok := r.BasicAuth()
		if f.users == nil || (ok && f.users[user] == pass) {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
		writeOCIError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return false

	case "bearer":
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		scope, issued := f.issued[token]
		if issued && (repo == "" || (scope == pullScope(repo) && !f.deny[repo])) {
			return true
		}

		challenge := fmt.Sprintf(`Bearer realm="%s/token",service="fake-registry"`, f.tokenSrv.URL)
		if repo != "" {
			challenge += fmt.Sprintf(`,scope="repository:%s:pull",error="insufficient_scope"`, repo)
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeOCIError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return false

	default:
		return true
	}
}

func (f *fakeRegistry) serveManifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	f.mu.Lock()
	m, ok := f.manifests[repo+":"+ref]
	f.mu.Unlock()

	if !ok {
		writeOCIError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
		return
	}

	w.Header().Set("Content-Type", m.mediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
	if !m.omitDigest {
		d := m.digest
		if d == "" {
			d = digest.FromBytes(m.body)
		}
		w.Header().Set("Docker-Content-Digest", d.String())
	}

	if r.Method == http.MethodGet {
		_, _ = w.Write(m.body)
	}
}

func (f *fakeRegistry) serveBlob(w http.ResponseWriter, r *http.Request, d digest.Digest) {
	f.mu.Lock()
	body, ok := f.blobs[d]
	f.mu.Unlock()

	if !ok {
		writeOCIError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown")
		return
	}

	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// splitRegistryPath splits /v2/<repo>/<kind>/<ref>; kind is "" for /v2/.
func splitRegistryPath(p string) (repo, kind, ref string) {
	rest := strings.TrimPrefix(p, "/v2/")
	for _, k := range []string{"/manifests/", "/blobs/", "/referrers/", "/tags/"} {
		if i := strings.LastIndex(rest, k); i >= 0 {
			return rest[:i], strings.Trim(k, "/"), rest[i+len(k):]
		}
	}

	return "", "", ""
}

func writeOCIError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, message)
}

// fakeClock is a settable clock for token expiry.
type fakeClock = testclock.Clock

func newFakeClock() *fakeClock {
	return testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

// newTestRegistry returns a client for url with short timeouts. Its
// retries do not wait.
func newTestRegistry(t *testing.T, url string, edit ...func(*Options)) *Registry {
	t.Helper()

	o := Options{Name: "test", URL: url, ConnectTimeout: 2 * time.Second, IdleReadTimeout: 5 * time.Second,
		Retry: RetryOptions{Sleep: func(context.Context, time.Duration) error { return nil }}}
	for _, e := range edit {
		e(&o)
	}

	r, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	return r
}

func withCredentials(user, pass string) func(*Options) {
	return func(o *Options) {
		o.Credentials = func(context.Context) (string, string, error) { return user, pass, nil }
	}
}

// requireKind fails unless err is an *Error of kind want.
func requireKind(t *testing.T, err error, want Kind) *Error {
	t.Helper()

	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error of kind %s", err, err, want)
	}
	if e.Kind != want {
		t.Fatalf("kind = %s, want %s (error: %v)", e.Kind, want, e)
	}

	return e
}

var testManifestBody = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)

func bytesOf(n int) []byte {
	return bytes.Repeat([]byte("x"), n)
}

var errTestSecretStore = errors.New("secret store unreachable")

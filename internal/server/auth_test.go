package server_test

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/server"
)

// writeHtpasswd writes an htpasswd file of bcrypt entries, at the lowest
// cost so that the tests stay fast, and returns its path.
func writeHtpasswd(t *testing.T, logins ...string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(logins); i += 2 {
		hash, err := bcrypt.GenerateFromPassword([]byte(logins[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatalf("hash password: %v", err)
		}
		b.WriteString(logins[i] + ":" + string(hash) + "\n")
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("write htpasswd: %v", err)
	}
	return path
}

func newTestAuth(t *testing.T, anonymousRead ...string) *server.Auth {
	t.Helper()
	auth, err := server.NewAuth(server.AuthOptions{
		Htpasswd:      writeHtpasswd(t, "ci", "s3cret", "dev", "other"),
		AnonymousRead: anonymousRead,
	})
	if err != nil {
		t.Fatalf("NewAuth: %v", err)
	}
	return auth
}

func basicAuth(user, password string) http.Header {
	return header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
}

// withAccept adds the Accept header of a modern client to h.
func withAccept(h http.Header) http.Header {
	h.Set("Accept", acceptAll().Get("Accept"))
	return h
}

// expectChallenge checks a 401 with the Basic challenge and, for GET, the
// UNAUTHORIZED error body.
func expectChallenge(t *testing.T, description string, r response, method string) {
	t.Helper()
	if r.status != http.StatusUnauthorized {
		t.Errorf("%s: status %d, want 401 (body %q)", description, r.status, r.body)
		return
	}
	if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="pullcache"` {
		t.Errorf("%s: WWW-Authenticate %q, want Basic realm=\"pullcache\"", description, got)
	}
	if method == http.MethodGet {
		if code, _ := ociError(t, r); code != "UNAUTHORIZED" {
			t.Errorf("%s: error code %q, want UNAUTHORIZED", description, code)
		}
	}
}

func TestAuthLogins(t *testing.T) {
	m := newMirror(t, mirrorConfig{auth: newTestAuth(t)})
	tag := manifestPath("library/alpine", m.std.Alpine.Tag)

	tests := []struct {
		name   string
		method string
		path   string
		login  http.Header
		want   int
	}{
		{"ping without login", http.MethodGet, "/v2/", nil, http.StatusUnauthorized},
		{"ping with login", http.MethodGet, "/v2/", basicAuth("ci", "s3cret"), http.StatusOK},
		{"ping with second user", http.MethodGet, "/v2/", basicAuth("dev", "other"), http.StatusOK},
		{"ping with wrong password", http.MethodGet, "/v2/", basicAuth("ci", "wrong"), http.StatusUnauthorized},
		{"ping with other user's password", http.MethodGet, "/v2/", basicAuth("dev", "s3cret"), http.StatusUnauthorized},
		{"ping with unknown user", http.MethodGet, "/v2/", basicAuth("nobody", "s3cret"), http.StatusUnauthorized},
		{"ping with bearer token", http.MethodGet, "/v2/", header("Authorization", "Bearer abc"), http.StatusUnauthorized},
		{"manifest without login", http.MethodGet, tag, nil, http.StatusUnauthorized},
		{"manifest HEAD without login", http.MethodHead, tag, nil, http.StatusUnauthorized},
		{"manifest with login", http.MethodGet, tag, basicAuth("ci", "s3cret"), http.StatusOK},
		{"manifest with wrong login", http.MethodGet, tag, basicAuth("ci", "S3cret"), http.StatusUnauthorized},
		{"catalog without login", http.MethodGet, "/v2/_catalog", nil, http.StatusUnauthorized},
		{"unknown registry without login", http.MethodGet, "/v2/ghcr.io/a/b/manifests/1", nil, http.StatusUnauthorized},
		{"unknown registry with login", http.MethodGet, "/v2/ghcr.io/a/b/manifests/1", basicAuth("ci", "s3cret"), http.StatusNotFound},
		{"push without login", http.MethodPost, "/v2/library/alpine/blobs/uploads/", nil, http.StatusUnauthorized},
		{"push with login", http.MethodPost, "/v2/library/alpine/blobs/uploads/", basicAuth("ci", "s3cret"), http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := withAccept(http.Header{})
			for name, values := range tt.login {
				h[name] = values
			}

			r := m.do(tt.method, tt.path, h)

			if tt.want == http.StatusUnauthorized {
				expectChallenge(t, tt.name, r, tt.method)
				return
			}
			if r.status != tt.want {
				t.Errorf("status %d, want %d (body %q)", r.status, tt.want, r.body)
			}
		})
	}
}

func TestAuthAnonymousRead(t *testing.T) {
	// A second registry, private.test, that needs a login while docker.io
	// is readable without one.
	private := hubsim.New(hubsim.Options{})
	if err := private.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start second hubsim: %v", err)
	}
	t.Cleanup(private.Close)
	privateStd := private.SeedStandard(0)

	m := newMirror(t, mirrorConfig{
		auth:  newTestAuth(t, "docker.io"),
		extra: []extraUpstream{{name: "private.test", url: private.URL()}},
	})
	img := m.std.Alpine
	tag := manifestPath("library/alpine", img.Tag)
	privateTag := manifestPath("private.test/library/alpine", privateStd.Alpine.Tag)

	m.pullImage("library/alpine", img)

	head := m.head(tag, acceptAll())
	if head.status != http.StatusOK {
		t.Errorf("anonymous HEAD of docker.io manifest: status %d, want 200", head.status)
	}
	// containers/image sends an empty Basic login when it has none.
	empty := m.get(tag, withAccept(basicAuth("", "")))
	if empty.status != http.StatusOK {
		t.Errorf("docker.io manifest with an empty login: status %d, want 200", empty.status)
	}
	expectChallenge(t, "docker.io manifest with a wrong login", m.get(tag, withAccept(basicAuth("ci", "wrong"))), http.MethodGet)
	expectChallenge(t, "anonymous ping", m.get("/v2/", nil), http.MethodGet)
	expectChallenge(t, "anonymous catalog", m.get("/v2/_catalog", nil), http.MethodGet)
	expectChallenge(t, "anonymous push to docker.io", m.do(http.MethodPost, "/v2/library/alpine/blobs/uploads/", nil), http.MethodPost)

	expectChallenge(t, "anonymous private.test manifest", m.get(privateTag, acceptAll()), http.MethodGet)
	expectChallenge(t, "anonymous private.test by ns", m.get(manifestPath("library/alpine", img.Tag)+"?ns=private.test", acceptAll()), http.MethodGet)
	withLogin := m.get(privateTag, withAccept(basicAuth("ci", "s3cret")))
	if withLogin.status != http.StatusOK {
		t.Errorf("private.test manifest with login: status %d, want 200 (body %q)", withLogin.status, withLogin.body)
	}
}

func TestAuthReloadsHtpasswd(t *testing.T) {
	path := writeHtpasswd(t, "ci", "old")
	auth, err := server.NewAuth(server.AuthOptions{Htpasswd: path})
	if err != nil {
		t.Fatalf("NewAuth: %v", err)
	}
	if !auth.Verify("ci", "old") {
		t.Fatal("Verify(ci, old) = false before the change")
	}

	replacement := writeHtpasswd(t, "ci", "new")
	if err := os.Rename(replacement, path); err != nil {
		t.Fatal(err)
	}
	// The file is compared at most once a second.
	deadline := time.Now().Add(5 * time.Second)
	for !auth.Verify("ci", "new") {
		if time.Now().After(deadline) {
			t.Fatal("Verify(ci, new) still false 5s after the htpasswd file changed")
		}
		time.Sleep(100 * time.Millisecond)
	}

	if auth.Verify("ci", "old") {
		t.Error("Verify(ci, old) = true after the entry changed")
	}

	// A broken file keeps the logins loaded before.
	if err := os.WriteFile(path, []byte("ci:plaintext\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if !auth.Verify("ci", "new") {
		t.Error("Verify(ci, new) = false after the file became invalid; the previous logins must stay")
	}
}

func TestNewAuthRejectsBadFile(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("ci:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	if _, err := server.NewAuth(server.AuthOptions{Htpasswd: filepath.Join(dir, "missing")}); err == nil {
		t.Error("NewAuth of a missing file succeeded, want an error")
	}
	_, err := server.NewAuth(server.AuthOptions{Htpasswd: plain})
	if err == nil || !strings.Contains(err.Error(), "not bcrypt") {
		t.Errorf("NewAuth of a SHA-1 entry: error %v, want one saying the hash is not bcrypt", err)
	}
}

package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/repoglob"
	"github.com/pullcache/pullcache/internal/server"
)

// withPatterns returns a route hook that sets allow and deny patterns on
// the upstream named name.
func withPatterns(t *testing.T, name string, allow, deny []string) func(*server.Upstream) {
	t.Helper()
	allowGlobs, err := repoglob.CompileAll(allow)
	if err != nil {
		t.Fatalf("compile allow patterns: %v", err)
	}
	denyGlobs, err := repoglob.CompileAll(deny)
	if err != nil {
		t.Fatalf("compile deny patterns: %v", err)
	}
	return func(u *server.Upstream) {
		if u.Name == name {
			u.Allow, u.Deny = allowGlobs, denyGlobs
		}
	}
}

// expectDenied checks a 403 DENIED response whose message names the
// configuration key to change.
func expectDenied(t *testing.T, m *mirror, path, key string) {
	t.Helper()
	r := m.get(path, acceptAll())
	expectError(t, "GET "+path, r, http.StatusForbidden, "DENIED")
	if r.status == http.StatusForbidden {
		if _, message := ociError(t, r); !strings.Contains(message, key) {
			t.Errorf("GET %s: message %q does not name the key %s", path, message, key)
		}
	}
	if head := m.head(path, acceptAll()); head.status != http.StatusForbidden {
		t.Errorf("HEAD %s: status %d, want 403", path, head.status)
	}
}

func TestPatternsDenyExcludes(t *testing.T) {
	m := newMirror(t, mirrorConfig{route: withPatterns(t, "docker.io", nil, []string{"library/alpine"})})
	layer := m.std.Alpine.Layers[0].Digest

	// The short name, the long name, the ns parameter and the path prefix
	// all name the same Docker Hub repository.
	for _, path := range []string{
		manifestPath("alpine", "3.20"),
		manifestPath("library/alpine", "3.20"),
		manifestPath("alpine", "3.20") + "?ns=docker.io",
		manifestPath("docker.io/library/alpine", "3.20"),
		manifestPath("alpine", m.std.Alpine.Digest.String()),
		blobPath("alpine", layer),
		"/v2/alpine/tags/list",
		"/v2/alpine/referrers/" + m.std.Alpine.Digest.String(),
	} {
		expectDenied(t, m, path, "upstreams[].deny")
	}
	if got := hubRequests(m.hub); got != 0 {
		t.Errorf("hub received %d requests for a denied repository, want 0", got)
	}

	r := m.get(manifestPath("multiarch", "latest"), acceptAll())
	if r.status != http.StatusOK {
		t.Errorf("GET multiarch:latest: status %d (body %q), want 200 for a repository no pattern excludes", r.status, r.body)
	}
}

func TestPatternsDenyMessageNamesPattern(t *testing.T) {
	m := newMirror(t, mirrorConfig{route: withPatterns(t, "docker.io", nil, []string{"library/a*"})})

	r := m.get(manifestPath("alpine", "3.20"), acceptAll())
	expectError(t, "GET alpine:3.20", r, http.StatusForbidden, "DENIED")
	_, message := ociError(t, r)
	for _, want := range []string{"library/alpine", "docker.io", `"library/a*"`} {
		if !strings.Contains(message, want) {
			t.Errorf("message %q does not contain %s", message, want)
		}
	}
}

func TestPatternsAllowList(t *testing.T) {
	m := newMirror(t, mirrorConfig{route: withPatterns(t, "docker.io", []string{"library/multi*", "library/manifest?ist"}, nil)})

	for _, path := range []string{
		manifestPath("alpine", "3.20"),
		manifestPath("big", "latest"),
		blobPath("library/alpine", m.std.Alpine.Layers[0].Digest),
	} {
		expectDenied(t, m, path, "upstreams[].allow")
	}
	if got := hubRequests(m.hub); got != 0 {
		t.Errorf("hub received %d requests for repositories outside the allow list, want 0", got)
	}

	for _, repo := range []string{"multiarch", "library/manifestlist"} {
		r := m.get(manifestPath(repo, "latest"), acceptAll())
		if r.status != http.StatusOK {
			t.Errorf("GET %s:latest: status %d (body %q), want 200 for an allowed repository", repo, r.status, r.body)
		}
	}
}

func TestPatternsDenyWinsOverAllow(t *testing.T) {
	m := newMirror(t, mirrorConfig{route: withPatterns(t, "docker.io", []string{"library/**"}, []string{"library/big"})})

	expectDenied(t, m, manifestPath("big", "latest"), "upstreams[].deny")
	if r := m.get(manifestPath("alpine", "3.20"), acceptAll()); r.status != http.StatusOK {
		t.Errorf("GET alpine:3.20: status %d, want 200", r.status)
	}
}

func TestPatternsPerUpstream(t *testing.T) {
	other := hubsim.New(hubsim.Options{})
	if err := other.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start second hubsim: %v", err)
	}
	t.Cleanup(other.Close)
	teamDigest, _ := putSmallImage(t, other, "team/app", "1", 3)
	putSmallImage(t, other, "alpine", "3.20", 4)

	m := newMirror(t, mirrorConfig{
		extra: []extraUpstream{{name: "other.test", url: other.URL()}},
		route: withPatterns(t, "other.test", []string{"team/**"}, nil),
	})

	expectDenied(t, m, manifestPath("other.test/alpine", "3.20"), "upstreams[].allow")
	expectDenied(t, m, manifestPath("alpine", "3.20")+"?ns=other.test", "upstreams[].allow")
	if got := hubRequests(other); got != 0 {
		t.Errorf("other.test received %d requests for a repository outside its allow list, want 0", got)
	}

	team := m.get(manifestPath("team/app", "1")+"?ns=other.test", acceptAll())
	if team.status != http.StatusOK {
		t.Fatalf("GET team/app:1 ?ns=other.test: status %d (body %q), want 200", team.status, team.body)
	}
	if got := team.header.Get("Docker-Content-Digest"); got != teamDigest.String() {
		t.Errorf("GET team/app:1 ?ns=other.test: digest %s, want other.test's %s", got, teamDigest)
	}

	// docker.io has no patterns, so the other upstream's allow list does
	// not apply to it.
	hub := m.get(manifestPath("alpine", "3.20"), acceptAll())
	if hub.status != http.StatusOK {
		t.Errorf("GET alpine:3.20 from docker.io: status %d, want 200", hub.status)
	}
	if got := hub.header.Get("Docker-Content-Digest"); got != m.std.Alpine.Digest.String() {
		t.Errorf("GET alpine:3.20 from docker.io: digest %s, want the hub's %s", got, m.std.Alpine.Digest)
	}
}

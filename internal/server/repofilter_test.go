package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/pullcache/pullcache/internal/repoglob"
)

func mustGlobs(t *testing.T, patterns ...string) []*repoglob.Glob {
	t.Helper()
	globs, err := repoglob.CompileAll(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return globs
}

func TestCheckRepositoryAllowed(t *testing.T) {
	up := Upstream{
		Name:  "docker.io",
		Allow: mustGlobs(t, "library/*", "myorg/**"),
		Deny:  mustGlobs(t, "library/evil", "myorg/secret/**"),
	}
	tests := []struct {
		repo string
		key  string // empty: allowed
	}{
		{"library/alpine", ""},
		{"myorg/team/app", ""},
		{"library/evil", "upstreams[].deny"},
		{"myorg/secret/x", "upstreams[].deny"},
		{"other/app", "upstreams[].allow"},
		{"library/a/b", "upstreams[].allow"},
	}
	for _, tt := range tests {
		err := checkRepositoryAllowed(up, tt.repo)
		if tt.key == "" {
			if err != nil {
				t.Errorf("%s: %v, want allowed", tt.repo, err)
			}
			continue
		}
		var e *apiError
		if !errors.As(err, &e) {
			t.Errorf("%s: err = %v, want an API error", tt.repo, err)
			continue
		}
		if e.Status != http.StatusForbidden || e.Code != "DENIED" || !strings.Contains(e.Message, tt.key) {
			t.Errorf("%s: %d %s %q, want 403 DENIED naming %s", tt.repo, e.Status, e.Code, e.Message, tt.key)
		}
	}
}

func TestCheckRepositoryAllowedWithoutPatterns(t *testing.T) {
	if err := checkRepositoryAllowed(Upstream{Name: "ghcr.io"}, "any/repo"); err != nil {
		t.Errorf("no patterns: %v, want every repository allowed", err)
	}
	if err := checkRepositoryAllowed(Upstream{Name: "ghcr.io", Deny: mustGlobs(t, "other")}, "any/repo"); err != nil {
		t.Errorf("deny only: %v, want unmatched repositories allowed", err)
	}
}

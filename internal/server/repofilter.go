package server

import (
	"net/http"

	"github.com/pullcache/pullcache/internal/repoglob"
)

// checkRepositoryAllowed applies an upstream's allow and deny patterns to
// repo, its name in the upstream's namespace (library/ included on Docker
// Hub). A repository is served when the upstream has no allow list or one
// of its patterns matches, and no deny pattern matches. It runs before the
// store or the upstream is touched, so an excluded repository is neither
// served from the store nor fetched.
func checkRepositoryAllowed(up Upstream, repo string) error {
	if g := firstMatch(up.Deny, repo); g != nil {
		return newError(http.StatusForbidden, "DENIED",
			"repository %s of %s is excluded by the deny pattern %q; remove that pattern from the upstream's deny list (upstreams[].deny) to mirror it",
			repo, up.Name, g.String())
	}
	if up.Allow != nil && firstMatch(up.Allow, repo) == nil {
		return newError(http.StatusForbidden, "DENIED",
			"repository %s of %s matches no allow pattern; add a pattern that matches it to the upstream's allow list (upstreams[].allow) to mirror it",
			repo, up.Name)
	}
	return nil
}

func firstMatch(globs []*repoglob.Glob, name string) *repoglob.Glob {
	for _, g := range globs {
		if g.Match(name) {
			return g
		}
	}
	return nil
}

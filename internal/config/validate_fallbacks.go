package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pullcache/pullcache/internal/repoglob"
)

// pathComponent is one element of a repository name, as the OCI
// distribution spec writes it.
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// checkFallbacks checks an upstream's fallbacks: each needs a URL, takes
// credentials like an upstream, and may narrow the repositories it serves
// and prefix their names.
func checkFallbacks(p *problems, path string, fallbacks []Fallback) {
	for i, f := range fallbacks {
		fpath := fmt.Sprintf("%s[%d]", path, i)
		checkURL(p, fpath+".url", f.URL)
		checkCredentials(p, fpath, f.Username, f.Password)

		if f.Repositories != nil && len(f.Repositories) == 0 {
			p.add(fpath+".repositories", "empty list; remove the key to serve every repository")
		}
		for j, glob := range f.Repositories {
			if _, err := repoglob.Compile(glob); err != nil {
				p.add(fmt.Sprintf("%s.repositories[%d]", fpath, j), "invalid pattern %q: %v", glob, err)
			}
		}

		checkPathPrefix(p, fpath+".path_prefix", f.PathPrefix)
	}
}

// checkPathPrefix accepts "" or repository path elements with an optional
// trailing slash, such as docker/ or docker.
func checkPathPrefix(p *problems, path, prefix string) {
	if prefix == "" {
		return
	}
	for _, elem := range strings.Split(strings.TrimSuffix(prefix, "/"), "/") {
		if !pathComponent.MatchString(elem) {
			p.add(path, "invalid prefix %q: write repository path elements in lower case, such as docker/", prefix)
			return
		}
	}
}

// FallbackPrefix returns f's path_prefix ready to put before a repository
// name: empty, or ending in one slash.
func (f Fallback) FallbackPrefix() string {
	if f.PathPrefix == "" {
		return ""
	}
	return strings.TrimSuffix(f.PathPrefix, "/") + "/"
}

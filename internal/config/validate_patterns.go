package config

import (
	"fmt"
	"strings"

	"github.com/pullcache/pullcache/internal/repoglob"
)

// checkRepositoryPatterns checks an upstream's allow and deny lists: each
// entry must compile, and on Docker Hub it must be able to match a name
// that carries the library/ prefix.
func checkRepositoryPatterns(p *problems, path string, u Upstream) {
	if u.Allow != nil && len(u.Allow) == 0 {
		// An empty allow list would exclude every repository, which is
		// more likely a mistake than a way to switch an upstream off.
		p.add(path+".allow", "empty list; remove the key to allow every repository, or list patterns such as library/*")
	}
	checkPatternList(p, path+".allow", u.Allow, u.IsDockerHub())
	checkPatternList(p, path+".deny", u.Deny, u.IsDockerHub())
}

func checkPatternList(p *problems, path string, patterns []string, dockerHub bool) {
	for i, pattern := range patterns {
		key := fmt.Sprintf("%s[%d]", path, i)
		if _, err := repoglob.Compile(pattern); err != nil {
			p.add(key, "invalid pattern %q: %v", pattern, err)
			continue
		}
		if dockerHub && !strings.Contains(pattern, "/") && !strings.Contains(pattern, "**") {
			p.add(key, "pattern %q never matches on Docker Hub, where a one-component name such as alpine is library/alpine; write library/%s", pattern, pattern)
		}
	}
}

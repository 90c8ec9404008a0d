package config

import "fmt"

// checkAuth checks client authentication. The htpasswd file itself is read
// when the server starts, so that Validate does no I/O.
func checkAuth(p *problems, a *Auth, upstreams []Upstream) {
	if a == nil {
		return
	}
	if a.Htpasswd == "" {
		p.add("auth.htpasswd", "missing file: name an htpasswd file of bcrypt entries (htpasswd -B), or remove auth to leave the mirror open")
	}

	configured := map[string]bool{}
	for _, u := range upstreams {
		configured[u.Name] = true
	}
	for i, name := range a.AnonymousRead {
		if !configured[name] {
			p.add(fmt.Sprintf("auth.anonymous_read[%d]", i), "%q is not the name of a configured upstream", name)
		}
	}
}

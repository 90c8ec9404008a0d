package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/distribution/reference"

	"github.com/pullcache/pullcache/internal/secret"
)

// registryHost matches a registry host with an optional port, as image
// references write it.
var registryHost = regexp.MustCompile(`^(?:` + reference.DomainRegexp.String() + `)$`)

func checkUpstreams(p *problems, upstreams []Upstream) {
	seen := map[string]int{}
	defaultIndex := -1

	for i, u := range upstreams {
		path := fmt.Sprintf("upstreams[%d]", i)
		checkUpstream(p, path, u)

		name := strings.ToLower(u.Name)
		if first, ok := seen[name]; ok && u.Name != "" {
			p.add(path+".name", "%q is already the name of upstreams[%d]", u.Name, first)
		} else {
			seen[name] = i
		}

		if u.Default {
			if defaultIndex >= 0 {
				p.add(path+".default", "upstreams[%d] is already the default; only one upstream may be", defaultIndex)
			} else {
				defaultIndex = i
			}
		}
	}

	if len(upstreams) > 1 && defaultIndex < 0 {
		p.add("upstreams", "no upstream has default: true; mark the one that serves requests naming no registry")
	}
}

func checkUpstream(p *problems, path string, u Upstream) {
	checkUpstreamName(p, path+".name", u.Name)
	checkURL(p, path+".url", u.URL)
	checkCredentials(p, path, u.Username, u.Password)

	if u.TagTTL != nil {
		p.nonNegative(path+".tag_ttl", *u.TagTTL)
	}
	p.nonNegative(path+".timeouts.connect", u.Timeouts.Connect)
	p.nonNegative(path+".timeouts.idle_read", u.Timeouts.IdleRead)
	if u.QuotaReserve < 0 {
		p.add(path+".quota_reserve", "%d must not be negative", u.QuotaReserve)
	}

	checkDockerConfig(p, path, u)
	checkRepositoryPatterns(p, path, u)
	checkFallbacks(p, path+".fallbacks", u.Fallbacks)
}

// checkUpstreamName requires a name that a client can put first in an image
// path. That is a host that contains "." or ":", or "localhost", which is
// Docker's rule for telling a registry host from a repository namespace.
func checkUpstreamName(p *problems, path, name string) {
	switch {
	case name == "":
		p.add(path, "missing registry host, such as docker.io or ghcr.io")
	case !registryHost.MatchString(name):
		p.add(path, "invalid registry host %q", name)
	case !strings.ContainsAny(name, ".:") && name != "localhost":
		p.add(path, "invalid registry host %q: must contain \".\" or \":\", or be localhost, so that image paths can name it", name)
	case name != strings.ToLower(name):
		// Clients and containerd's ns parameter send hosts in lower case,
		// and docker.io is recognised as Docker Hub by this exact name.
		p.add(path, "invalid registry host %q: write it in lower case, as %s", name, strings.ToLower(name))
	}
}

func checkURL(p *problems, path, raw string) {
	if raw == "" {
		p.add(path, "missing URL, such as https://registry-1.docker.io")
		return
	}
	if !strings.HasPrefix(raw, "http://") && !strings.HasPrefix(raw, "https://") {
		p.add(path, "invalid URL %q: it must start with http:// or https://", raw)
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		p.add(path, "invalid URL %q: %v", raw, unwrapURLError(err))
		return
	}

	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		p.add(path, "invalid URL %q: scheme must be http or https", raw)
	case u.Host == "":
		p.add(path, "invalid URL %q: missing host", raw)
	case u.User != nil:
		// Credentials in the URL would be printed wherever the URL is.
		p.add(path, "invalid URL %q: remove the credentials and set username and password instead", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		p.add(path, "invalid URL %q: remove the query or fragment", raw)
	}
}

// unwrapURLError drops url.Error's repetition of the operation and URL.
func unwrapURLError(err error) error {
	if urlErr, ok := err.(*url.Error); ok {
		return urlErr.Err
	}
	return err
}

func checkCredentials(p *problems, path, username, password string) {
	if err := secret.CheckReference(username); err != nil {
		p.add(path+".username", "%v", err)
	}
	if err := secret.CheckReference(password); err != nil {
		p.add(path+".password", "%v", err)
	}

	switch {
	case username != "" && password == "":
		p.add(path+".password", "missing; set it together with username")
	case username == "" && password != "":
		p.add(path+".username", "missing; set it together with password")
	}
}

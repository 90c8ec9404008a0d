package config

import (
	"strings"
	"time"
)

// TagTTLFor returns the tag TTL for u: its own tag_ttl when set, else
// cache.tag_ttl.
func (c Config) TagTTLFor(u Upstream) time.Duration {
	if u.TagTTL != nil {
		return *u.TagTTL
	}
	return c.Cache.TagTTL
}

// DefaultUpstream returns the upstream for requests that name no registry:
// the one marked default, or the only one.
func (c Config) DefaultUpstream() (Upstream, bool) {
	if len(c.Upstreams) == 1 {
		return c.Upstreams[0], true
	}
	for _, u := range c.Upstreams {
		if u.Default {
			return u, true
		}
	}
	return Upstream{}, false
}

// Upstream returns the upstream named name. Names are registry hosts, so
// they compare without regard to case.
func (c Config) Upstream(name string) (Upstream, bool) {
	for _, u := range c.Upstreams {
		if strings.EqualFold(u.Name, name) {
			return u, true
		}
	}
	return Upstream{}, false
}

package config

import (
	"slices"

	"github.com/pullcache/pullcache/internal/secret"
)

// maskedValue replaces literal passwords in Masked.
const maskedValue = "***"

// Masked returns a copy of c that is safe to print or log: literal passwords
// become "***". References such as env:NAME stay as written, because they
// name a secret without being one.
func (c Config) Masked() Config {
	c.Upstreams = slices.Clone(c.Upstreams)
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		u.Password = maskPassword(u.Password)

		u.Fallbacks = slices.Clone(u.Fallbacks)
		for j := range u.Fallbacks {
			u.Fallbacks[j].Password = maskPassword(u.Fallbacks[j].Password)
		}
	}
	return c
}

func maskPassword(value string) string {
	if value == "" || secret.IsReference(value) {
		return value
	}
	return maskedValue
}

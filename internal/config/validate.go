package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// problems collects validation errors, each prefixed with the key path of
// the value to fix.
type problems []error

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (p *problems) nonNegative(path string, d time.Duration) {
	if d < 0 {
		p.add(path, "%s must not be negative", d)
	}
}

// Validate returns every problem in c at once, one line each, each naming the
// YAML key path to fix, such as
// `upstreams[1].url: invalid URL "ftp://x": scheme must be http or https`.
func (c *Config) Validate() error {
	var p problems

	checkListen(&p, "listen", c.Listen)
	checkListen(&p, "admin_listen", c.AdminListen)
	// Port 0 picks a free port for each listener, so only equal fixed
	// addresses collide.
	if c.Listen == c.AdminListen && c.Listen != "" && !strings.HasSuffix(c.Listen, ":0") {
		p.add("admin_listen", "%q is also the listen address; the admin port needs its own", c.AdminListen)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		p.add("log_format", "invalid value %q: must be text or json", c.LogFormat)
	}

	checkStorage(&p, c.Storage)
	checkCache(&p, c.Cache)
	checkAuth(&p, c.Auth, c.Upstreams)
	checkTLS(&p, c.TLS)
	checkLimits(&p, c.Limits)
	checkUpstreams(&p, c.Upstreams)
	p.nonNegative("credentials_refresh", c.CredentialsRefresh)

	return errors.Join(p...)
}

// checkListen accepts "host:port" and ":port" with a numeric port.
func checkListen(p *problems, path, addr string) {
	if addr == "" {
		p.add(path, "missing address: want host:port, such as 127.0.0.1:5000")
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(path, "invalid address %q: want host:port, such as 127.0.0.1:5000", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add(path, "invalid address %q: port must be a number from 0 to 65535", addr)
	}
}

func checkStorage(p *problems, s Storage) {
	if s.S3 != nil {
		checkS3(p, s)
		return
	}
	if s.Filesystem == nil || s.Filesystem.Root == "" {
		p.add("storage.filesystem.root", "missing directory")
	}
}

func checkCache(p *problems, c Cache) {
	p.nonNegative("cache.tag_ttl", c.TagTTL)
	if c.MaxSize < 0 {
		p.add("cache.max_size", "%d must not be negative; leave it out for no bound", c.MaxSize)
	}
	p.nonNegative("cache.gc_grace", c.GCGrace)
}

func checkLimits(p *problems, l Limits) {
	if l.MaxUpstreamFetches < 1 {
		p.add("limits.max_upstream_fetches", "%d must be at least 1", l.MaxUpstreamFetches)
	}
	p.nonNegative("limits.fetch_queue_wait", l.FetchQueueWait)
	p.nonNegative("limits.read_header_timeout", l.ReadHeaderTimeout)
	p.nonNegative("limits.idle_timeout", l.IdleTimeout)
	if l.MaxManifestSize <= 0 {
		p.add("limits.max_manifest_size", "%d must be greater than 0", l.MaxManifestSize)
	}
}

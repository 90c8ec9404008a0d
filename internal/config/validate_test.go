package config

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	cfg := Default()

	if err := cfg.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func TestValidateMessages(t *testing.T) {
	negative := -time.Second
	hub := func() Upstream { return Default().Upstreams[0] }
	ghcr := Upstream{Name: "ghcr.io", URL: "https://ghcr.io"}

	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, `listen: invalid address "127.0.0.1": want host:port`},
		{"listen empty", func(c *Config) { c.Listen = "" }, "listen: missing address"},
		{"admin port not a number", func(c *Config) { c.AdminListen = "127.0.0.1:admin" }, `admin_listen: invalid address "127.0.0.1:admin": port must be a number from 0 to 65535`},
		{"admin port too large", func(c *Config) { c.AdminListen = ":70000" }, "admin_listen: invalid address \":70000\": port must be a number"},
		{"admin same as listen", func(c *Config) { c.AdminListen = c.Listen }, `admin_listen: "127.0.0.1:5000" is also the listen address`},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, `log_format: invalid value "xml": must be text or json`},
		{"no storage", func(c *Config) { c.Storage.Filesystem = nil }, "storage.filesystem.root: missing directory"},
		{"empty root", func(c *Config) { c.Storage.Filesystem.Root = "" }, "storage.filesystem.root: missing directory"},
		{"s3 and filesystem", func(c *Config) { c.Storage.S3 = &S3{Bucket: "b"} }, "storage: both filesystem and s3 are set; keep one"},
		{"negative tag ttl", func(c *Config) { c.Cache.TagTTL = -time.Minute }, "cache.tag_ttl: -1m0s must not be negative"},
		{"negative gc grace", func(c *Config) { c.Cache.GCGrace = -time.Minute }, "cache.gc_grace: -1m0s must not be negative"},
		{"negative max size", func(c *Config) { c.Cache.MaxSize = -1 }, "cache.max_size: -1 must not be negative"},
		{"auth without htpasswd", func(c *Config) { c.Auth = &Auth{} }, "auth.htpasswd: missing file"},
		{"anonymous read of unknown upstream", func(c *Config) { c.Auth = &Auth{Htpasswd: "h", AnonymousRead: []string{"ghcr.io"}} }, `auth.anonymous_read[0]: "ghcr.io" is not the name of a configured upstream`},
		{"tls without cert", func(c *Config) { c.TLS = &TLS{Key: "k"} }, "tls.cert: missing file"},
		{"tls without key", func(c *Config) { c.TLS = &TLS{Cert: "c"} }, "tls.key: missing file"},
		{"zero fetches", func(c *Config) { c.Limits.MaxUpstreamFetches = 0 }, "limits.max_upstream_fetches: 0 must be at least 1"},
		{"negative queue wait", func(c *Config) { c.Limits.FetchQueueWait = negative }, "limits.fetch_queue_wait: -1s must not be negative"},
		{"negative read header timeout", func(c *Config) { c.Limits.ReadHeaderTimeout = negative }, "limits.read_header_timeout: -1s must not be negative"},
		{"negative idle timeout", func(c *Config) { c.Limits.IdleTimeout = negative }, "limits.idle_timeout: -1s must not be negative"},
		{"zero manifest size", func(c *Config) { c.Limits.MaxManifestSize = 0 }, "limits.max_manifest_size: 0 must be greater than 0"},
		{"negative refresh", func(c *Config) { c.CredentialsRefresh = negative }, "credentials_refresh: -1s must not be negative"},
		{"ftp url", func(c *Config) { c.Upstreams = []Upstream{hub(), {Name: "x.io", URL: "ftp://x"}} }, `upstreams[1].url: invalid URL "ftp://x": it must start with http:// or https://`},
		{"url without scheme", func(c *Config) { c.Upstreams[0].URL = "127.0.0.1:5001" }, `upstreams[0].url: invalid URL "127.0.0.1:5001": it must start with http:// or https://`},
		{"name in upper case", func(c *Config) { c.Upstreams[0].Name = "Docker.IO" }, `upstreams[0].name: invalid registry host "Docker.IO": write it in lower case, as docker.io`},
		{"url without host", func(c *Config) { c.Upstreams[0].URL = "https://" }, `upstreams[0].url: invalid URL "https://": missing host`},
		{"url unparsable", func(c *Config) { c.Upstreams[0].URL = "https://[::1" }, `upstreams[0].url: invalid URL "https://[::1"`},
		{"url missing", func(c *Config) { c.Upstreams[0].URL = "" }, "upstreams[0].url: missing URL"},
		{"url with credentials", func(c *Config) { c.Upstreams[0].URL = "https://me:hunter2@registry.example.com" }, `upstreams[0].url: invalid URL "https://me:xxxxx@registry.example.com": remove the credentials`},
		{"url with query", func(c *Config) { c.Upstreams[0].URL = "https://registry.example.com?x=1" }, "upstreams[0].url: invalid URL \"https://registry.example.com?x=1\": remove the query"},
		{"name missing", func(c *Config) { c.Upstreams[0].Name = "" }, "upstreams[0].name: missing registry host"},
		{"name not a host", func(c *Config) { c.Upstreams[0].Name = "library" }, `upstreams[0].name: invalid registry host "library": must contain "." or ":", or be localhost`},
		{"name with path", func(c *Config) { c.Upstreams[0].Name = "ghcr.io/owner" }, `upstreams[0].name: invalid registry host "ghcr.io/owner"`},
		{"name duplicate", func(c *Config) { c.Upstreams = []Upstream{hub(), ghcr, {Name: "GHCR.io", URL: "https://ghcr.io"}} }, `upstreams[2].name: "GHCR.io" is already the name of upstreams[1]`},
		{"no default", func(c *Config) { c.Upstreams = []Upstream{ghcr, {Name: "quay.io", URL: "https://quay.io"}} }, "upstreams: no upstream has default: true"},
		{"two defaults", func(c *Config) {
			second := ghcr
			second.Default = true
			c.Upstreams = []Upstream{hub(), second}
		}, "upstreams[1].default: upstreams[0] is already the default"},
		{"negative upstream tag ttl", func(c *Config) { c.Upstreams[0].TagTTL = &negative }, "upstreams[0].tag_ttl: -1s must not be negative"},
		{"negative connect timeout", func(c *Config) { c.Upstreams[0].Timeouts.Connect = negative }, "upstreams[0].timeouts.connect: -1s must not be negative"},
		{"negative idle read timeout", func(c *Config) { c.Upstreams[0].Timeouts.IdleRead = negative }, "upstreams[0].timeouts.idle_read: -1s must not be negative"},
		{"negative quota reserve", func(c *Config) { c.Upstreams[0].QuotaReserve = -1 }, "upstreams[0].quota_reserve: -1 must not be negative"},
		{"password without username", func(c *Config) { c.Upstreams[0].Password = "env:P" }, "upstreams[0].username: missing; set it together with password"},
		{"username without password", func(c *Config) { c.Upstreams[0].Username = "me" }, "upstreams[0].password: missing; set it together with username"},
		{"env reference without name", func(c *Config) {
			c.Upstreams[0].Username = "me"
			c.Upstreams[0].Password = "env:"
		}, `upstreams[0].password: invalid env reference "env:": missing variable name`},
		{"file reference without path", func(c *Config) {
			c.Upstreams[0].Username = "file:"
			c.Upstreams[0].Password = "p"
		}, `upstreams[0].username: invalid file reference "file:": missing path`},
		{"docker config and username", func(c *Config) {
			c.Upstreams[0].DockerConfig = true
			c.Upstreams[0].Username = "me"
			c.Upstreams[0].Password = "p"
		}, "upstreams[0].docker_config: set either docker_config or username and password"},
		{"fallback without URL", func(c *Config) { c.Upstreams[0].Fallbacks = []Fallback{{}} }, "upstreams[0].fallbacks[0].url: missing URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.change(&cfg)

			err := cfg.Validate()

			wantError(t, err, tt.want)
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows a password: %v", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := Default()
	cfg.Listen = "nope"
	cfg.LogFormat = "xml"
	cfg.Upstreams[0].URL = "ftp://x"

	err := cfg.Validate()

	if err == nil {
		t.Fatal("Validate() = nil")
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 3 {
		t.Errorf("got %d problems, want 3: %v", len(lines), err)
	}
}

func TestValidateAcceptedValues(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"listen on all addresses", func(c *Config) { c.Listen = ":5000" }},
		{"ipv6 listen", func(c *Config) { c.Listen = "[::1]:5000" }},
		{"random ports", func(c *Config) { c.Listen, c.AdminListen = "127.0.0.1:0", "127.0.0.1:0" }},
		{"localhost upstream", func(c *Config) {
			c.Upstreams = []Upstream{{Name: "localhost", URL: "http://127.0.0.1:5001"}}
		}},
		{"upstream with port", func(c *Config) {
			c.Upstreams = []Upstream{{Name: "registry.internal:5000", URL: "http://10.0.0.5:5000/prefix"}}
		}},
		{"zero durations", func(c *Config) {
			c.Cache.TagTTL, c.Cache.GCGrace, c.CredentialsRefresh = 0, 0, 0
		}},
		{"no upstreams", func(c *Config) { c.Upstreams = nil }},
		{"literal password with colon", func(c *Config) {
			c.Upstreams[0].Username, c.Upstreams[0].Password = "me", "p:ss"
		}},
		{"secretsmanager reference", func(c *Config) {
			c.Upstreams[0].Username = "secretsmanager:docker-hub:username"
			c.Upstreams[0].Password = "secretsmanager:docker-hub:password"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.change(&cfg)

			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

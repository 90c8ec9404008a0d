package config

import "time"

// Defaults for the settings that have one.
const (
	DefaultListen      = "127.0.0.1:5000"
	DefaultAdminListen = "127.0.0.1:9090"
	DefaultDataRoot    = "./pullcache-data"

	DefaultTagTTL             = 5 * time.Minute
	DefaultGCGrace            = time.Hour
	DefaultCredentialsRefresh = 15 * time.Minute

	DefaultMaxUpstreamFetches = 64
	DefaultFetchQueueWait     = 30 * time.Second
	DefaultReadHeaderTimeout  = 10 * time.Second
	DefaultIdleTimeout        = 120 * time.Second
	// DefaultMaxManifestSize matches the 4 MiB limit that Docker Hub and
	// the distribution registry put on manifests.
	DefaultMaxManifestSize ByteSize = 4 << 20

	DefaultConnectTimeout  = 10 * time.Second
	DefaultIdleReadTimeout = 60 * time.Second
)

// Default returns the configuration used with no file: a mirror of Docker
// Hub on loopback, storing under ./pullcache-data, without credentials.
func Default() Config {
	return Config{
		Listen:      DefaultListen,
		AdminListen: DefaultAdminListen,
		LogFormat:   "text",
		Storage: Storage{
			Filesystem: &Filesystem{Root: DefaultDataRoot},
		},
		Cache: Cache{
			TagTTL:  DefaultTagTTL,
			GCGrace: DefaultGCGrace,
		},
		Limits: Limits{
			MaxUpstreamFetches: DefaultMaxUpstreamFetches,
			FetchQueueWait:     DefaultFetchQueueWait,
			ReadHeaderTimeout:  DefaultReadHeaderTimeout,
			IdleTimeout:        DefaultIdleTimeout,
			MaxManifestSize:    DefaultMaxManifestSize,
		},
		Upstreams: []Upstream{{
			Name:     "docker.io",
			URL:      "https://registry-1.docker.io",
			Default:  true,
			Timeouts: Timeouts{Connect: DefaultConnectTimeout, IdleRead: DefaultIdleReadTimeout},
		}},
		CredentialsRefresh: DefaultCredentialsRefresh,
	}
}

// applyUpstreamDefaults fills what a file's upstreams leave out. The YAML
// decoder builds each listed upstream from zero values, so the defaults
// cannot come from Default.
func (c *Config) applyUpstreamDefaults() {
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		if u.Timeouts.Connect == 0 {
			u.Timeouts.Connect = DefaultConnectTimeout
		}
		if u.Timeouts.IdleRead == 0 {
			u.Timeouts.IdleRead = DefaultIdleReadTimeout
		}
	}

	// A single upstream is the default without saying so.
	if len(c.Upstreams) == 1 {
		c.Upstreams[0].Default = true
	}
}

// Package config holds pullcache's configuration: the YAML file, defaults,
// flag overrides and validation with messages that name the key to fix.
package config

import "time"

// Config is the whole configuration file. Durations and sizes are parsed
// from strings such as "5m" and "50GiB".
type Config struct {
	Listen             string        `yaml:"listen"`
	AdminListen        string        `yaml:"admin_listen"`
	LogFormat          string        `yaml:"log_format"` // text (default) or json
	Storage            Storage       `yaml:"storage"`
	Cache              Cache         `yaml:"cache"`
	Limits             Limits        `yaml:"limits"`
	Upstreams          []Upstream    `yaml:"upstreams"`
	CredentialsRefresh time.Duration `yaml:"credentials_refresh"`
}

type Storage struct {
	Filesystem *Filesystem `yaml:"filesystem"`
}

type Filesystem struct {
	Root string `yaml:"root"`
}

type Cache struct {
	// TagTTL is how long a tag is served without asking upstream. 0 means
	// revalidate on every request.
	TagTTL time.Duration `yaml:"tag_ttl"`
	// MaxSize bounds the store in bytes; 0 means no bound.
	MaxSize int64 `yaml:"max_size"`
	// GCGrace protects objects younger than this from eviction and gc.
	GCGrace time.Duration `yaml:"gc_grace"`
	// UpstreamAuthoritative makes a tag deleted upstream answer 404 instead
	// of being served as STALE.
	UpstreamAuthoritative bool `yaml:"upstream_authoritative"`
}

type Limits struct {
	MaxUpstreamFetches int           `yaml:"max_upstream_fetches"`
	FetchQueueWait     time.Duration `yaml:"fetch_queue_wait"`
	ReadHeaderTimeout  time.Duration `yaml:"read_header_timeout"`
	IdleTimeout        time.Duration `yaml:"idle_timeout"`
	MaxManifestSize    int64         `yaml:"max_manifest_size"`
}

type Upstream struct {
	Name     string `yaml:"name"`
	URL      string `yaml:"url"`
	Default  bool   `yaml:"default"`
	Username string `yaml:"username"` // literal or env:/file: reference
	Password string `yaml:"password"` // literal or env:/file: reference
	// TagTTL overrides cache.tag_ttl for this upstream when set.
	TagTTL       *time.Duration `yaml:"tag_ttl"`
	Timeouts     Timeouts       `yaml:"timeouts"`
	QuotaReserve int            `yaml:"quota_reserve"`
}

type Timeouts struct {
	Connect  time.Duration `yaml:"connect"`
	IdleRead time.Duration `yaml:"idle_read"`
}

// IsDockerHub reports whether the upstream is Docker Hub by its name, which
// is what decides library/ prefixing, whatever its URL.
func (u Upstream) IsDockerHub() bool { return u.Name == "docker.io" }

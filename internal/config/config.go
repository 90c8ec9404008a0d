// Package config holds pullcache's configuration: the YAML file, defaults,
// flag overrides and validation with messages that name the key to fix.
package config

import "time"

// Config is the whole configuration file. Durations are parsed from strings
// such as "5m" (a bare 0 is accepted too) and sizes from strings such as
// "50GiB" or plain byte counts.
type Config struct {
	Listen      string  `yaml:"listen"`
	AdminListen string  `yaml:"admin_listen"`
	LogFormat   string  `yaml:"log_format"` // text (default) or json
	Storage     Storage `yaml:"storage"`
	Cache       Cache   `yaml:"cache"`
	// Auth is client authentication, off when nil.
	Auth *Auth `yaml:"auth,omitempty"`
	// TLS serves both ports over TLS when set.
	TLS       *TLS       `yaml:"tls,omitempty"`
	Limits    Limits     `yaml:"limits"`
	Upstreams []Upstream `yaml:"upstreams"`
	// CredentialsRefresh is how often credential references are resolved
	// again. 0 means they are resolved once, at start-up.
	CredentialsRefresh time.Duration `yaml:"credentials_refresh"`
}

// Storage selects the backend. Exactly one of its fields is set.
type Storage struct {
	Filesystem *Filesystem `yaml:"filesystem,omitempty"`
	// S3 is an S3 or S3-compatible bucket that several replicas can share.
	S3 *S3 `yaml:"s3,omitempty"`
}

type Filesystem struct {
	Root string `yaml:"root"`
}

// S3 is an S3 or S3-compatible bucket. Credentials come from the AWS SDK's
// default chain, so none appear here.
type S3 struct {
	Bucket    string `yaml:"bucket"`
	Prefix    string `yaml:"prefix,omitempty"`
	Region    string `yaml:"region,omitempty"`
	Endpoint  string `yaml:"endpoint,omitempty"`
	PathStyle bool   `yaml:"path_style,omitempty"`
	// Redirect makes blob GETs return a 307 redirect to a presigned URL.
	Redirect bool `yaml:"redirect,omitempty"`
}

type Cache struct {
	// TagTTL is how long a tag is served without asking upstream. 0 means
	// revalidate on every request.
	TagTTL time.Duration `yaml:"tag_ttl"`
	// MaxSize bounds the store; 0 means no bound.
	MaxSize ByteSize `yaml:"max_size"`
	// GCGrace protects objects younger than this from eviction and gc.
	GCGrace time.Duration `yaml:"gc_grace"`
	// UpstreamAuthoritative makes a tag deleted upstream return 404 instead
	// of being served as STALE.
	UpstreamAuthoritative bool `yaml:"upstream_authoritative"`
}

// Auth is client authentication.
type Auth struct {
	// Htpasswd is a file of bcrypt htpasswd entries.
	Htpasswd string `yaml:"htpasswd"`
	// AnonymousRead lists upstream names readable without login.
	AnonymousRead []string `yaml:"anonymous_read,omitempty"`
}

// TLS is a certificate and key in PEM files.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

type Limits struct {
	// MaxUpstreamFetches bounds concurrent upstream transfers; more wait in
	// a queue for up to FetchQueueWait.
	MaxUpstreamFetches int           `yaml:"max_upstream_fetches"`
	FetchQueueWait     time.Duration `yaml:"fetch_queue_wait"`
	ReadHeaderTimeout  time.Duration `yaml:"read_header_timeout"`
	IdleTimeout        time.Duration `yaml:"idle_timeout"`
	MaxManifestSize    ByteSize      `yaml:"max_manifest_size"`
}

type Upstream struct {
	Name     string `yaml:"name"`
	URL      string `yaml:"url"`
	Default  bool   `yaml:"default"`
	Username string `yaml:"username,omitempty"` // literal or credential reference
	Password string `yaml:"password,omitempty"` // literal or credential reference
	// DockerConfig takes the credentials from this registry's entry in the
	// Docker config instead of Username and Password.
	DockerConfig bool `yaml:"docker_config,omitempty"`
	// TagTTL overrides cache.tag_ttl for this upstream when set.
	TagTTL *time.Duration `yaml:"tag_ttl,omitempty"`
	// Timeouts that are 0 take the defaults.
	Timeouts Timeouts `yaml:"timeouts"`
	// Allow and Deny are repository globs (package repoglob). A repository
	// is served when Allow is nil or one of its patterns matches, and no
	// Deny pattern matches.
	Allow        []string `yaml:"allow,omitempty"`
	Deny         []string `yaml:"deny,omitempty"`
	QuotaReserve int      `yaml:"quota_reserve"`
	// Fallbacks serve content by digest when this upstream cannot.
	Fallbacks []Fallback `yaml:"fallbacks,omitempty"`
}

type Timeouts struct {
	Connect  time.Duration `yaml:"connect"`
	IdleRead time.Duration `yaml:"idle_read"`
}

// Fallback is a registry that serves an upstream's content by digest.
type Fallback struct {
	URL string `yaml:"url"`
	// Repositories lists the repository globs it serves; empty means all.
	Repositories []string `yaml:"repositories,omitempty"`
	// PathPrefix is prepended to repository names on this registry.
	PathPrefix string `yaml:"path_prefix,omitempty"`
	Username   string `yaml:"username,omitempty"`
	Password   string `yaml:"password,omitempty"`
}

// IsDockerHub reports whether the upstream is Docker Hub by its name, which
// is what decides library/ prefixing, whatever its URL.
func (u Upstream) IsDockerHub() bool { return u.Name == "docker.io" }

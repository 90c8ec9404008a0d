package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadText(t *testing.T, text string) (Config, error) {
	t.Helper()
	return Load(writeConfig(t, text))
}

func wantError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to contain %q", err, want)
	}
}

// fullExample sets every key of the file format, including those that
// Validate rejects as not supported yet.
const fullExample = `
listen: 127.0.0.1:5000
admin_listen: 127.0.0.1:9090      # /metrics, /healthz, /readyz, status page
storage:
  filesystem:
    root: ./pullcache-data
cache:
  tag_ttl: 5m
  max_size: 50GiB
  gc_grace: 1h
  upstream_authoritative: false
auth:
  htpasswd: /etc/pullcache/htpasswd
  anonymous_read: [docker.io]
tls: {cert: FILE, key: FILE}
limits:
  max_upstream_fetches: 64
  fetch_queue_wait: 30s
  read_header_timeout: 10s
  idle_timeout: 120s
  max_manifest_size: 4MiB
upstreams:
  - name: docker.io
    url: https://registry-1.docker.io
    default: true
    username: secretsmanager:arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:docker-hub-AbCdEf:username
    password: secretsmanager:arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:docker-hub-AbCdEf:password
    docker_config: true
    tag_ttl: 1m
    timeouts: {connect: 10s, idle_read: 60s}
    allow: ["library/*", "myorg/**"]
    deny: ["library/evil"]
    quota_reserve: 5
    fallbacks:
      - url: https://mirror.gcr.io
      - url: https://public.ecr.aws
        repositories: ["library/*"]
        path_prefix: docker/
credentials_refresh: 15m
`

func TestParseFullExample(t *testing.T) {
	cfg, err := parse([]byte(fullExample))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}

	if cfg.Cache.MaxSize != 50<<30 {
		t.Errorf("cache.max_size = %d, want 50 GiB", cfg.Cache.MaxSize)
	}
	if cfg.Auth == nil || cfg.Auth.Htpasswd != "/etc/pullcache/htpasswd" || len(cfg.Auth.AnonymousRead) != 1 {
		t.Errorf("auth = %+v", cfg.Auth)
	}
	if cfg.TLS == nil || cfg.TLS.Cert != "FILE" {
		t.Errorf("tls = %+v", cfg.TLS)
	}
	u := cfg.Upstreams[0]
	if u.TagTTL == nil || *u.TagTTL != time.Minute {
		t.Errorf("upstreams[0].tag_ttl = %v, want 1m", u.TagTTL)
	}
	if u.QuotaReserve != 5 || !u.DockerConfig || len(u.Allow) != 2 || len(u.Deny) != 1 {
		t.Errorf("upstreams[0] = %+v", u)
	}
	if len(u.Fallbacks) != 2 || u.Fallbacks[1].PathPrefix != "docker/" || u.Fallbacks[1].Repositories[0] != "library/*" {
		t.Errorf("upstreams[0].fallbacks = %+v", u.Fallbacks)
	}
}

func TestLoadFullExampleUnsupported(t *testing.T) {
	_, err := loadText(t, fullExample)

	for _, want := range []string{
		"upstreams[0].docker_config: set either docker_config or username and password",
	} {
		wantError(t, err, want)
	}
	if strings.Contains(err.Error(), "fallbacks") {
		t.Errorf("the example's fallbacks reported as invalid: %v", err)
	}
	if strings.Contains(err.Error(), ".username:") || strings.Contains(err.Error(), ".password:") {
		t.Errorf("secretsmanager references reported as invalid: %v", err)
	}
}

func TestLoadSupportedExample(t *testing.T) {
	cfg, err := loadText(t, `
listen: 0.0.0.0:5000
admin_listen: 127.0.0.1:9090
log_format: json
storage:
  filesystem:
    root: /var/lib/pullcache
cache:
  tag_ttl: 0
  max_size: 512MB
upstreams:
  - name: docker.io
    url: https://registry-1.docker.io
    default: true
    username: env:DOCKER_USER
    password: file:/run/secrets/docker-password
  - name: ghcr.io
    url: https://ghcr.io
    tag_ttl: 1m
    timeouts: {connect: 5s}
`)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	if cfg.Listen != "0.0.0.0:5000" || cfg.LogFormat != "json" {
		t.Errorf("listen, log_format = %q, %q", cfg.Listen, cfg.LogFormat)
	}
	if cfg.Storage.Filesystem.Root != "/var/lib/pullcache" {
		t.Errorf("storage.filesystem.root = %q", cfg.Storage.Filesystem.Root)
	}
	if cfg.Cache.TagTTL != 0 {
		t.Errorf("cache.tag_ttl = %v, want 0", cfg.Cache.TagTTL)
	}
	if cfg.Cache.GCGrace != DefaultGCGrace {
		t.Errorf("cache.gc_grace = %v, want the default", cfg.Cache.GCGrace)
	}
	if cfg.Cache.MaxSize != 512_000_000 {
		t.Errorf("cache.max_size = %d, want 512000000", cfg.Cache.MaxSize)
	}
	if cfg.Limits != Default().Limits {
		t.Errorf("limits = %+v, want the defaults", cfg.Limits)
	}
	if len(cfg.Upstreams) != 2 {
		t.Fatalf("got %d upstreams, want 2", len(cfg.Upstreams))
	}
	ghcr := cfg.Upstreams[1]
	if ghcr.Default {
		t.Error("upstreams[1] became a default")
	}
	if ghcr.Timeouts.Connect != 5*time.Second || ghcr.Timeouts.IdleRead != DefaultIdleReadTimeout {
		t.Errorf("upstreams[1].timeouts = %+v, want connect 5s and the default idle_read", ghcr.Timeouts)
	}
	if got := cfg.TagTTLFor(ghcr); got != time.Minute {
		t.Errorf("TagTTLFor(ghcr.io) = %v, want 1m", got)
	}
	if got := cfg.TagTTLFor(cfg.Upstreams[0]); got != 0 {
		t.Errorf("TagTTLFor(docker.io) = %v, want cache.tag_ttl 0", got)
	}
}

func TestLoadEmptyFile(t *testing.T) {
	for _, text := range []string{"", "# only a comment\n"} {
		cfg, err := loadText(t, text)
		if err != nil {
			t.Fatalf("Load(%q): %v", text, err)
		}
		if cfg.Listen != DefaultListen || len(cfg.Upstreams) != 1 {
			t.Errorf("Load(%q) = %+v, want the defaults", text, cfg)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")

	_, err := Load(missing)

	wantError(t, err, missing)
}

func TestLoadSingleUpstreamIsDefault(t *testing.T) {
	cfg, err := loadText(t, `
upstreams:
  - name: registry.example.com:5000
    url: http://127.0.0.1:5000
`)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	if len(cfg.Upstreams) != 1 {
		t.Fatalf("got %d upstreams, want the file's one to replace the default", len(cfg.Upstreams))
	}
	u, ok := cfg.DefaultUpstream()
	if !ok || u.Name != "registry.example.com:5000" {
		t.Errorf("DefaultUpstream() = %q, %v", u.Name, ok)
	}
	if !cfg.Upstreams[0].Default {
		t.Error("the single upstream is not marked default")
	}
	if cfg.Upstreams[0].Timeouts.Connect != DefaultConnectTimeout {
		t.Errorf("timeouts.connect = %v, want the default", cfg.Upstreams[0].Timeouts.Connect)
	}
}

func TestLoadUnknownKey(t *testing.T) {
	_, err := loadText(t, "cache:\n  tag_ttl: 5m\n  tagttl: 1m\n")

	wantError(t, err, "cache.tagttl: unknown key (line 3)")
}

func TestLoadUnknownKeyInUpstream(t *testing.T) {
	_, err := loadText(t, `
upstreams:
  - name: docker.io
    url: https://registry-1.docker.io
    passwd: x
`)

	wantError(t, err, "upstreams[0].passwd: unknown key (line 5)")
}

func TestLoadWrongTypeNamesKey(t *testing.T) {
	_, err := loadText(t, "limits:\n  max_upstream_fetches: many\n")

	wantError(t, err, "limits.max_upstream_fetches: cannot unmarshal !!str `many` into int (line 2)")
}

func TestLoadSyntaxError(t *testing.T) {
	_, err := loadText(t, "listen: [unclosed\n")

	wantError(t, err, "line")
}

func TestLoadDurations(t *testing.T) {
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"5m", 5 * time.Minute},
		{"0", 0},
		{"0s", 0},
		{`"0"`, 0},
		{"1h30m", 90 * time.Minute},
		{"1.5s", 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		cfg, err := loadText(t, "cache:\n  gc_grace: "+tt.value+"\n")
		if err != nil {
			t.Errorf("gc_grace %s: %v", tt.value, err)
			continue
		}
		if cfg.Cache.GCGrace != tt.want {
			t.Errorf("gc_grace %s = %v, want %v", tt.value, cfg.Cache.GCGrace, tt.want)
		}
	}
}

func TestLoadUpstreamTagTTLZero(t *testing.T) {
	cfg, err := loadText(t, `
upstreams:
  - name: docker.io
    url: https://registry-1.docker.io
    tag_ttl: 0
`)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	u := cfg.Upstreams[0]
	if u.TagTTL == nil || *u.TagTTL != 0 {
		t.Errorf("tag_ttl = %v, want a set 0", u.TagTTL)
	}
	if got := cfg.TagTTLFor(u); got != 0 {
		t.Errorf("TagTTLFor = %v, want 0", got)
	}
}

func TestLoadInvalidDurations(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"cache:\n  tag_ttl: 300\n", "cache.tag_ttl: invalid duration 300: add a unit, such as 300s or 5m (line 2)"},
		{"cache:\n  tag_ttl: 5 minutes\n", "cache.tag_ttl: cannot unmarshal !!str `5 minutes` into time.Duration (line 2)"},
		{"cache:\n  tag_ttl: -5m\n", "cache.tag_ttl: -5m0s must not be negative"},
	}
	for _, tt := range tests {
		_, err := loadText(t, tt.text)
		wantError(t, err, tt.want)
	}
}

func TestLoadByteSizes(t *testing.T) {
	tests := []struct {
		value string
		want  ByteSize
	}{
		{"50GiB", 50 << 30},
		{"4MiB", 4 << 20},
		{"512MB", 512_000_000},
		{"1024", 1024},
		{"0", 0},
		{"1.5GiB", 3 << 29},
		{"10 KiB", 10 << 10},
	}
	for _, tt := range tests {
		cfg, err := loadText(t, "cache:\n  max_size: "+tt.value+"\n")
		if err != nil {
			t.Errorf("max_size %s: %v", tt.value, err)
			continue
		}
		if cfg.Cache.MaxSize != tt.want {
			t.Errorf("max_size %s = %d, want %d", tt.value, cfg.Cache.MaxSize, tt.want)
		}
	}
}

func TestLoadInvalidByteSizes(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"cache:\n  max_size: 4XB\n", `cache.max_size: invalid byte size "4XB"`},
		{"cache:\n  max_size: -1GiB\n", `cache.max_size: invalid byte size "-1GiB"`},
		{"cache:\n  max_size: [1]\n", "cache.max_size: invalid byte size"},
		{"cache:\n  max_size: -1\n", "cache.max_size: -1 must not be negative"},
		{"limits:\n  max_manifest_size: 0\n", "limits.max_manifest_size: 0 must be greater than 0"},
	}
	for _, tt := range tests {
		_, err := loadText(t, tt.text)
		wantError(t, err, tt.want)
	}
}

func TestLoadS3Only(t *testing.T) {
	cfg, err := loadText(t, "storage:\n  s3: {bucket: cache, region: ap-northeast-1}\n")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Storage.Filesystem != nil {
		t.Errorf("storage.filesystem = %+v, want nil when the file sets only s3", cfg.Storage.Filesystem)
	}
	if cfg.Storage.S3 == nil || cfg.Storage.S3.Bucket != "cache" {
		t.Errorf("storage.s3 = %+v, want bucket cache", cfg.Storage.S3)
	}
}

func TestLoadAliasAndMerge(t *testing.T) {
	cfg, err := loadText(t, `
upstreams:
  - &hub
    name: docker.io
    url: https://registry-1.docker.io
    default: true
  - <<: *hub
    name: mirror.example.com
    default: false
`)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	if cfg.Upstreams[1].URL != "https://registry-1.docker.io" {
		t.Errorf("merged url = %q", cfg.Upstreams[1].URL)
	}
}

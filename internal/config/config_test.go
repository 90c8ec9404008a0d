package config

import (
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDefault(t *testing.T) {
	cfg := Default()

	if cfg.Listen != "127.0.0.1:5000" || cfg.AdminListen != "127.0.0.1:9090" {
		t.Errorf("listen, admin_listen = %q, %q", cfg.Listen, cfg.AdminListen)
	}
	if cfg.Storage.Filesystem == nil || cfg.Storage.Filesystem.Root != "./pullcache-data" {
		t.Errorf("storage = %+v", cfg.Storage)
	}
	if cfg.Cache.TagTTL != 5*time.Minute || cfg.Cache.GCGrace != time.Hour || cfg.Cache.MaxSize != 0 {
		t.Errorf("cache = %+v", cfg.Cache)
	}
	wantLimits := Limits{
		MaxUpstreamFetches: 64,
		FetchQueueWait:     30 * time.Second,
		ReadHeaderTimeout:  10 * time.Second,
		IdleTimeout:        120 * time.Second,
		MaxManifestSize:    4 << 20,
	}
	if cfg.Limits != wantLimits {
		t.Errorf("limits = %+v, want %+v", cfg.Limits, wantLimits)
	}
	if cfg.CredentialsRefresh != 15*time.Minute {
		t.Errorf("credentials_refresh = %v", cfg.CredentialsRefresh)
	}
	if len(cfg.Upstreams) != 1 {
		t.Fatalf("got %d upstreams, want 1", len(cfg.Upstreams))
	}
	u := cfg.Upstreams[0]
	if u.Name != "docker.io" || u.URL != "https://registry-1.docker.io" || !u.Default || !u.IsDockerHub() {
		t.Errorf("upstream = %+v", u)
	}
	if u.Timeouts != (Timeouts{Connect: 10 * time.Second, IdleRead: 60 * time.Second}) {
		t.Errorf("timeouts = %+v", u.Timeouts)
	}
}

func TestDefaultReturnsFreshCopies(t *testing.T) {
	first := Default()
	first.Upstreams[0].Name = "changed.example.com"
	first.Storage.Filesystem.Root = "changed"

	second := Default()

	if second.Upstreams[0].Name != "docker.io" || second.Storage.Filesystem.Root != DefaultDataRoot {
		t.Error("changing one Default() changed the next")
	}
}

func TestUpstreamLookup(t *testing.T) {
	cfg := Default()
	cfg.Upstreams = append(cfg.Upstreams, Upstream{Name: "ghcr.io", URL: "https://ghcr.io"})

	u, ok := cfg.Upstream("GHCR.IO")
	if !ok || u.Name != "ghcr.io" {
		t.Errorf("Upstream(GHCR.IO) = %q, %v", u.Name, ok)
	}
	if _, ok := cfg.Upstream("quay.io"); ok {
		t.Error("Upstream(quay.io) found an upstream")
	}
	if u, ok := cfg.DefaultUpstream(); !ok || u.Name != "docker.io" {
		t.Errorf("DefaultUpstream() = %q, %v", u.Name, ok)
	}
}

func TestDefaultUpstreamMissing(t *testing.T) {
	cfg := Default()
	cfg.Upstreams = []Upstream{{Name: "ghcr.io"}, {Name: "quay.io"}}

	if _, ok := cfg.DefaultUpstream(); ok {
		t.Error("DefaultUpstream() found one among two without default")
	}
	cfg.Upstreams = nil
	if _, ok := cfg.DefaultUpstream(); ok {
		t.Error("DefaultUpstream() found one with no upstreams")
	}
}

func TestTagTTLFor(t *testing.T) {
	cfg := Default()
	override := time.Minute
	withOverride := Upstream{Name: "ghcr.io", TagTTL: &override}

	if got := cfg.TagTTLFor(cfg.Upstreams[0]); got != DefaultTagTTL {
		t.Errorf("TagTTLFor without override = %v, want %v", got, DefaultTagTTL)
	}
	if got := cfg.TagTTLFor(withOverride); got != time.Minute {
		t.Errorf("TagTTLFor with override = %v, want 1m", got)
	}
}

func TestMasked(t *testing.T) {
	cfg := Default()
	cfg.Upstreams = []Upstream{
		{Name: "docker.io", Username: "me", Password: "hunter2", Fallbacks: []Fallback{{URL: "https://mirror.gcr.io", Password: "fallback-secret"}}},
		{Name: "ghcr.io", Username: "env:GHCR_USER", Password: "env:GHCR_TOKEN"},
		{Name: "quay.io"},
	}

	masked := cfg.Masked()

	if got := masked.Upstreams[0].Password; got != "***" {
		t.Errorf("literal password = %q, want ***", got)
	}
	if got := masked.Upstreams[0].Username; got != "me" {
		t.Errorf("username = %q, want it kept", got)
	}
	if got := masked.Upstreams[0].Fallbacks[0].Password; got != "***" {
		t.Errorf("fallback password = %q, want ***", got)
	}
	if got := masked.Upstreams[1].Password; got != "env:GHCR_TOKEN" {
		t.Errorf("reference = %q, want it kept", got)
	}
	if got := masked.Upstreams[2].Password; got != "" {
		t.Errorf("unset password = %q, want it empty", got)
	}
	if cfg.Upstreams[0].Password != "hunter2" || cfg.Upstreams[0].Fallbacks[0].Password != "fallback-secret" {
		t.Error("Masked changed the original")
	}
}

func TestByteSizeRoundTrip(t *testing.T) {
	tests := map[ByteSize]string{
		0:           "0",
		1000:        "1000",
		4 << 20:     "4MiB",
		50 << 30:    "50GiB",
		512_000_000: "500000KiB",
		1536:        "1536",
		3 << 10:     "3KiB",
	}
	for size, want := range tests {
		out, err := yaml.Marshal(map[string]ByteSize{"size": size})
		if err != nil {
			t.Fatalf("Marshal(%d): %v", size, err)
		}
		if got := string(out); got != "size: "+want+"\n" {
			t.Errorf("Marshal(%d) = %q, want %q", size, got, want)
		}

		var back map[string]ByteSize
		if err := yaml.Unmarshal(out, &back); err != nil {
			t.Fatalf("Unmarshal(%q): %v", out, err)
		}
		if back["size"] != size {
			t.Errorf("round trip of %d = %d", size, back["size"])
		}
	}
}

func TestMarshaledConfigLoadsBack(t *testing.T) {
	cfg := Default()
	cfg.Cache.TagTTL = 0

	out, err := yaml.Marshal(cfg.Masked())
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	back, err := loadText(t, string(out))
	if err != nil {
		t.Fatalf("Load of marshaled config: %v\n%s", err, out)
	}

	if back.Limits != cfg.Limits || back.Cache != cfg.Cache || back.Listen != cfg.Listen {
		t.Errorf("loaded back %+v, want %+v", back, cfg)
	}
}

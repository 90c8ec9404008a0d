package config

import (
	"strings"
	"testing"
)

func TestValidateFallbacks(t *testing.T) {
	tests := []struct {
		name      string
		fallbacks []Fallback
		want      string // "" for valid
	}{
		{name: "same names", fallbacks: []Fallback{{URL: "https://mirror.gcr.io"}}},
		{name: "prefix and globs", fallbacks: []Fallback{{URL: "https://public.ecr.aws", Repositories: []string{"library/*", "myorg/**"}, PathPrefix: "docker/"}}},
		{name: "prefix without slash", fallbacks: []Fallback{{URL: "http://127.0.0.1:5001", PathPrefix: "mirror/docker"}}},
		{name: "credentials by reference", fallbacks: []Fallback{{URL: "https://ghcr.io", Username: "env:U", Password: "file:/run/secrets/p"}}},
		{name: "missing URL", fallbacks: []Fallback{{}}, want: "upstreams[0].fallbacks[0].url: missing URL"},
		{name: "bad scheme", fallbacks: []Fallback{{URL: "ftp://mirror"}}, want: "upstreams[0].fallbacks[0].url: invalid URL"},
		{name: "password alone", fallbacks: []Fallback{{URL: "https://mirror.gcr.io", Password: "env:P"}}, want: "upstreams[0].fallbacks[0].username: missing"},
		{name: "bad glob", fallbacks: []Fallback{{URL: "https://mirror.gcr.io", Repositories: []string{"library/[a"}}}, want: "upstreams[0].fallbacks[0].repositories[0]: invalid pattern"},
		{name: "empty repositories", fallbacks: []Fallback{{URL: "https://mirror.gcr.io", Repositories: []string{}}}, want: "upstreams[0].fallbacks[0].repositories: empty list"},
		{name: "prefix with capitals", fallbacks: []Fallback{{URL: "https://public.ecr.aws", PathPrefix: "Docker/"}}, want: "upstreams[0].fallbacks[0].path_prefix: invalid prefix"},
		{name: "prefix with leading slash", fallbacks: []Fallback{{URL: "https://public.ecr.aws", PathPrefix: "/docker/"}}, want: "upstreams[0].fallbacks[0].path_prefix: invalid prefix"},
		{name: "second entry", fallbacks: []Fallback{{URL: "https://mirror.gcr.io"}, {URL: ""}}, want: "upstreams[0].fallbacks[1].url: missing URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.Upstreams[0].Fallbacks = tt.fallbacks

			err := cfg.Validate()

			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestFallbackPrefix(t *testing.T) {
	for prefix, want := range map[string]string{"": "", "docker": "docker/", "docker/": "docker/", "a/b": "a/b/"} {
		if got := (Fallback{PathPrefix: prefix}).FallbackPrefix(); got != want {
			t.Errorf("FallbackPrefix(%q) = %q, want %q", prefix, got, want)
		}
	}
}

package config

import (
	"strings"
	"testing"
)

func TestValidatePatternMessages(t *testing.T) {
	ghcr := func() Upstream { return Upstream{Name: "ghcr.io", URL: "https://ghcr.io"} }

	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"empty allow list", func(c *Config) { c.Upstreams[0].Allow = []string{} }, "upstreams[0].allow: empty list; remove the key to allow every repository"},
		{"empty pattern", func(c *Config) { c.Upstreams[0].Deny = []string{"library/evil", ""} }, `upstreams[0].deny[1]: invalid pattern "": empty pattern`},
		{"upper case", func(c *Config) { c.Upstreams[0].Allow = []string{"library/Alpine"} }, `upstreams[0].allow[0]: invalid pattern "library/Alpine": 'A' never matches: repository names are lower case`},
		{"unclosed class", func(c *Config) { c.Upstreams[0].Deny = []string{"library/app-[0-9"} }, `upstreams[0].deny[0]: invalid pattern "library/app-[0-9": missing ] after [`},
		{"docker hub one component", func(c *Config) { c.Upstreams[0].Deny = []string{"alpine"} }, `upstreams[0].deny[0]: pattern "alpine" never matches on Docker Hub, where a one-component name such as alpine is library/alpine; write library/alpine`},
		{"second upstream", func(c *Config) {
			u := ghcr()
			u.Allow = []string{"owner/*", "/owner"}
			c.Upstreams = append(c.Upstreams, u)
		}, `upstreams[1].allow[1]: invalid pattern "/owner": a repository name never starts or ends with /`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.change(&cfg)

			wantError(t, cfg.Validate(), tt.want)
		})
	}
}

func TestValidatePatternsAccepted(t *testing.T) {
	cfg := Default()
	cfg.Upstreams[0].Allow = []string{"library/*", "myorg/**", "**"}
	cfg.Upstreams[0].Deny = []string{"library/evil", "library/app-[0-9]"}
	// Names with one component are fine on any other registry.
	cfg.Upstreams = append(cfg.Upstreams, Upstream{Name: "ghcr.io", URL: "https://ghcr.io", Allow: []string{"app"}, Deny: []string{}})

	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() = %v, want valid patterns accepted", err)
	}
}

func TestLoadPatterns(t *testing.T) {
	cfg, err := loadText(t, `
upstreams:
  - name: docker.io
    url: https://registry-1.docker.io
    default: true
    allow: ["library/*", "myorg/**"]
    deny: ["library/evil"]
`)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	u := cfg.Upstreams[0]
	if strings.Join(u.Allow, ",") != "library/*,myorg/**" || strings.Join(u.Deny, ",") != "library/evil" {
		t.Errorf("allow, deny = %q, %q", u.Allow, u.Deny)
	}
}

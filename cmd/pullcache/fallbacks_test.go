package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/metrics"
)

func TestBuildFallbacks(t *testing.T) {
	t.Setenv("FALLBACK_USER", "reader")
	t.Setenv("FALLBACK_PASSWORD", "s3cret")
	u := config.Upstream{Name: "docker.io", URL: "https://registry-1.docker.io", Fallbacks: []config.Fallback{
		{URL: "https://mirror.gcr.io"},
		{URL: "https://public.ecr.aws", Repositories: []string{"library/*"}, PathPrefix: "docker",
			Username: "env:FALLBACK_USER", Password: "env:FALLBACK_PASSWORD"},
	}}

	got, err := buildFallbacks(context.Background(), config.Default(), 0, u, slog.New(slog.DiscardHandler), credentialsObserver{}, metrics.New())
	if err != nil {
		t.Fatalf("buildFallbacks: %v", err)
	}

	if len(got) != 2 {
		t.Fatalf("got %d fallbacks, want 2", len(got))
	}
	if name := got[0].Client.Name(); name != "mirror.gcr.io" {
		t.Errorf("first fallback named %q, want mirror.gcr.io", name)
	}
	if got[0].PathPrefix != "" || len(got[0].Repositories) != 0 {
		t.Errorf("first fallback %+v, want no prefix and every repository", got[0])
	}
	if got[1].PathPrefix != "docker/" {
		t.Errorf("second fallback prefix %q, want docker/", got[1].PathPrefix)
	}
	if len(got[1].Repositories) != 1 || !got[1].Repositories[0].Match("library/alpine") || got[1].Repositories[0].Match("myorg/app") {
		t.Errorf("second fallback repositories %v, want library/* only", got[1].Repositories)
	}
}

func TestBuildFallbacksNamesBrokenReference(t *testing.T) {
	u := config.Upstream{Name: "docker.io", URL: "https://registry-1.docker.io", Fallbacks: []config.Fallback{
		{URL: "https://mirror.gcr.io", Username: "env:PULLCACHE_TEST_MISSING_USER", Password: "env:PULLCACHE_TEST_MISSING_PASSWORD"},
	}}

	_, err := buildFallbacks(context.Background(), config.Default(), 2, u, slog.New(slog.DiscardHandler), credentialsObserver{}, metrics.New())

	if err == nil || !strings.Contains(err.Error(), "upstreams[2].fallbacks[0] (https://mirror.gcr.io)") {
		t.Errorf("error %v, want one that names upstreams[2].fallbacks[0]", err)
	}
}

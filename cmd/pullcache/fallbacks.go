package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/metrics"
	"github.com/pullcache/pullcache/internal/repoglob"
	"github.com/pullcache/pullcache/internal/secret"
)

// buildFallbacks creates a client per fallback of u. Their credential
// references are kept fresh like an upstream's: resolved here, so a broken
// one stops start-up with a message naming it, then again every
// credentials_refresh and after a rejection.
func buildFallbacks(ctx context.Context, cfg config.Config, index int, u config.Upstream, log *slog.Logger, obs credentialsObserver, m *metrics.Metrics) ([]cache.Fallback, error) {
	resolver := &secret.Resolver{}
	var out []cache.Fallback
	for j, f := range u.Fallbacks {
		where := fmt.Sprintf("upstreams[%d].fallbacks[%d] (%s)", index, j, f.URL)
		name := fallbackName(f.URL)

		creds := newUpstreamCredentials(config.Upstream{Name: name, Username: f.Username, Password: f.Password}, resolver, log, obs)
		if err := creds.Load(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		go creds.Run(ctx, cfg.CredentialsRefresh)
		client, err := newRegistryClient(name, f.URL, creds, u.Timeouts, cfg, log.With(slog.String("fallback_of", u.Name)), m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}

		repositories, err := repoglob.CompileAll(f.Repositories)
		if err != nil {
			return nil, fmt.Errorf("%s: repositories: %w", where, err)
		}
		fb := cache.Fallback{Client: client, PathPrefix: f.FallbackPrefix(), Repositories: repositories}
		out = append(out, fb)
		log.Info("fallback configured", slog.String("upstream", u.Name), slog.String("fallback", client.Name()),
			slog.String("path_prefix", fb.PathPrefix), slog.Any("repositories", f.Repositories))
	}
	return out, nil
}

// fallbackName names a fallback in logs, errors and metrics by its host,
// such as mirror.gcr.io.
func fallbackName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	return u.Host
}

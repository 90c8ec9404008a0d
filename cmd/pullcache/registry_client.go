package main

import (
	"log/slog"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/metrics"
	"github.com/pullcache/pullcache/internal/secret"
	"github.com/pullcache/pullcache/internal/upstream"
)

// newRegistryClient creates the client of an upstream or a fallback named
// name, with its credentials, its timeouts and the metrics hooks under that
// name.
func newRegistryClient(name, url string, creds *secret.Credentials, timeouts config.Timeouts, cfg config.Config, log *slog.Logger, m *metrics.Metrics) (*upstream.Registry, error) {
	return upstream.New(upstream.Options{
		Name:            name,
		URL:             url,
		Credentials:     creds.Get,
		ConnectTimeout:  timeouts.Connect,
		IdleReadTimeout: timeouts.IdleRead,
		MaxManifestSize: int64(cfg.Limits.MaxManifestSize),
		Logger:          log,
		OnResponse:      m.UpstreamObserver(name),
		OnBody:          m.BodyObserver(name),
		Retry:           upstream.RetryOptions{OnRetry: m.RetryObserver(name)},

		CredentialsRejected: creds.Rejected,
	})
}

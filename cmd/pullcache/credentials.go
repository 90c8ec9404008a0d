package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/dockerconfig"
	"github.com/pullcache/pullcache/internal/secret"
)

// credentialsObserver receives the events that metrics count. The zero
// value records nothing.
type credentialsObserver struct {
	// Rejected is called each time an upstream refuses the configured
	// credentials and pulls go on anonymously.
	Rejected func(upstream string)
}

// newUpstreamCredentials returns the credential provider of upstream u:
// its username and password references, or its Docker config entry.
func newUpstreamCredentials(u config.Upstream, resolver *secret.Resolver, log *slog.Logger, obs credentialsObserver) *secret.Credentials {
	opts := secret.CredentialsOptions{
		Upstream:   u.Name,
		Username:   u.Username,
		Password:   u.Password,
		Resolver:   resolver,
		Logger:     log,
		OnRejected: obs.Rejected,
	}
	if u.DockerConfig {
		key := dockerconfig.Key(u.Name, u.IsDockerHub())
		opts.Describe = "docker_config entry " + key
		opts.DockerConfig = func(ctx context.Context) (string, string, error) {
			return dockerConfigCredentials(ctx, key)
		}
	}
	return secret.NewCredentials(opts)
}

// dockerConfigCredentials reads the registry's entry of the Docker config
// file. An identity token comes back with the username
// upstream.IdentityTokenUser, which the upstream client exchanges with the
// OAuth 2 refresh_token grant.
func dockerConfigCredentials(ctx context.Context, key string) (string, string, error) {
	return dockerconfig.Lookup(ctx, key)
}

// loadCredentials builds and resolves the credentials of every upstream. A
// failure names the upstream and the reference, never a value.
func loadCredentials(ctx context.Context, cfg config.Config, log *slog.Logger, obs credentialsObserver) (map[string]*secret.Credentials, error) {
	resolver := &secret.Resolver{}
	out := make(map[string]*secret.Credentials, len(cfg.Upstreams))
	var errs []error

	for i, u := range cfg.Upstreams {
		creds := newUpstreamCredentials(u, resolver, log, obs)
		if err := creds.Load(ctx); err != nil {
			errs = append(errs, fmt.Errorf("upstreams[%d]: %w", i, err))
			continue
		}
		out[u.Name] = creds
	}
	return out, errors.Join(errs...)
}

// loadConfigFile loads and validates path, or the defaults when path is
// empty, as serve does.
func loadConfigFile(path string) (config.Config, error) {
	cfg := config.Default()
	if path != "" {
		loaded, err := config.Load(path)
		if err != nil {
			return config.Config{}, err
		}
		cfg = loaded
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// newCommandLogger logs warnings and errors to stderr for the commands
// other than serve.
func newCommandLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

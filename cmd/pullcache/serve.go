package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pullcache/pullcache/internal/admin"
	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/logging"
	"github.com/pullcache/pullcache/internal/metrics"
	"github.com/pullcache/pullcache/internal/server"
	"github.com/pullcache/pullcache/internal/storage"
)

// shutdownTimeout is how long in-flight requests get to finish on SIGTERM.
const shutdownTimeout = 30 * time.Second

// adminShutdownTimeout is how long the admin port's requests (health
// checks, metrics) get to finish once the registry port has stopped.
const adminShutdownTimeout = 5 * time.Second

type serveFlags struct {
	config      string
	listen      string
	adminListen string
	data        string
	logFormat   string
}

func newServeCommand() *cobra.Command {
	var flags serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the registry mirror",
		Long: `Run the registry mirror.

With no flags and no configuration file it listens on 127.0.0.1:5000, stores
under ./pullcache-data and mirrors Docker Hub anonymously. Flags override the
file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), flags)
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.config, "config", "", "configuration file (YAML); without it the defaults apply")
	f.StringVar(&flags.listen, "listen", "", "registry listen address, host:port (default 127.0.0.1:5000)")
	f.StringVar(&flags.adminListen, "admin-listen", "", "admin listen address for health checks, host:port (default 127.0.0.1:9090)")
	f.StringVar(&flags.data, "data", "", "data directory of the filesystem store (default ./pullcache-data)")
	f.StringVar(&flags.logFormat, "log-format", "", "log format: text or json (default text)")
	return cmd
}

func loadServeConfig(flags serveFlags) (config.Config, error) {
	cfg := config.Default()
	if flags.config != "" {
		loaded, err := config.Load(flags.config)
		if err != nil {
			return config.Config{}, err
		}
		cfg = loaded
	}

	if flags.listen != "" {
		cfg.Listen = flags.listen
	}
	if flags.adminListen != "" {
		cfg.AdminListen = flags.adminListen
	}
	if flags.data != "" {
		cfg.Storage.Filesystem = &config.Filesystem{Root: flags.data}
	}
	if flags.logFormat != "" {
		cfg.LogFormat = flags.logFormat
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// newLogger returns a logger on stderr in the given format. When a Recent
// is given, it also keeps the latest warnings and errors.
func newLogger(format string, recent ...*logging.Recent) *slog.Logger {
	o := logging.Options{Format: format}
	if len(recent) > 0 {
		o.Recent = recent[0]
	}
	return logging.New(os.Stderr, o)
}

func runServe(ctx context.Context, flags serveFlags) error {
	cfg, err := loadServeConfig(flags)
	if err != nil {
		return err
	}
	obs := newObservability(cfg)
	log := obs.log

	opened, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer opened.close()
	store := opened.store

	evictor, stopEvictor, err := startEvictor(cfg, store, opened.maintenanceGate, countEviction(obs.metrics), log)
	if err != nil {
		return err
	}
	defer stopEvictor()

	adminHandler := admin.New(func(ctx context.Context) error {
		if fs := cfg.Storage.Filesystem; fs != nil {
			if err := checkDataDir(fs.Root); err != nil {
				return err
			}
		}
		return checkStore(ctx, store)
	})
	remotes, routes, err := buildUpstreams(ctx, cfg, log, obs.metrics)
	if err != nil {
		return err
	}
	c, err := cache.New(cache.Options{
		Store:                 obs.watchStore(adminHandler, store),
		SpoolDir:              opened.spoolDir,
		Remotes:               remotes,
		UpstreamAuthoritative: cfg.Cache.UpstreamAuthoritative,
		MaxManifestSize:       int64(cfg.Limits.MaxManifestSize),
		MaxUpstreamFetches:    cfg.Limits.MaxUpstreamFetches,
		FetchQueueWait:        cfg.Limits.FetchQueueWait,
		Logger:                log,
		Access:                evictor,
		Observer:              obs.metrics,
		OnCoalesced:           obs.metrics.Coalesced,
	})
	if err != nil {
		return err
	}
	clientAuth, err := newClientAuth(cfg, log)
	if err != nil {
		return err
	}
	tlsConfig, err := newTLSConfig(cfg, log)
	if err != nil {
		return err
	}
	handler := obs.metrics.Middleware(server.New(server.Options{Cache: c, Upstreams: routes, Logger: log, BlobRedirect: opened.blobRedirect, Auth: clientAuth}))

	listener, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (listen): %w", cfg.Listen, err)
	}
	active := &activeRequests{}
	srv := newHTTPServer(active.track(handler), cfg.Limits, log)

	adminListener, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		listener.Close()
		return fmt.Errorf("listen on %s (admin_listen): %w", cfg.AdminListen, err)
	}
	adminSrv := newHTTPServer(adminHandler, cfg.Limits, log)
	listener, adminListener = withTLS(listener, tlsConfig), withTLS(adminListener, tlsConfig)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	watchCtx, stopWatching := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatching()
	historySaved := obs.mount(watchCtx, adminHandler, store, cfg)

	serveErr := make(chan error, 2)
	go func() { serveErr <- fmt.Errorf("serve on %s: %w", cfg.Listen, srv.Serve(listener)) }()
	go func() { serveErr <- fmt.Errorf("serve on %s: %w", cfg.AdminListen, adminSrv.Serve(adminListener)) }()
	log.Info("pullcache started", slog.String("version", currentVersion()), slog.String("listen", listener.Addr().String()),
		slog.String("admin_listen", adminListener.Addr().String()), slog.String("data", opened.location),
		slog.Any("upstreams", upstreamSummary(cfg)), slog.Duration("tag_ttl", cfg.Cache.TagTTL), settingsAttr(cfg))

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}

	log.Info("pullcache stopping", slog.Duration("grace", shutdownTimeout))
	adminHandler.SetStopping()
	shutDownServer(srv, active, shutdownTimeout, log)
	stopWatching()
	<-historySaved
	adminCtx, cancel := context.WithTimeout(context.Background(), adminShutdownTimeout)
	defer cancel()
	if adminSrv.Shutdown(adminCtx) != nil {
		adminSrv.Close()
	}
	log.Info("pullcache stopped")
	return nil
}

// newHTTPServer applies the configured limits to a listener's server.
func newHTTPServer(handler http.Handler, limits config.Limits, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: limits.ReadHeaderTimeout,
		IdleTimeout:       limits.IdleTimeout,
		ErrorLog:          newServerErrorLog(log),
	}
}

// checkStore is the readiness check: the store must list its keys.
func checkStore(ctx context.Context, store storage.Store) error {
	err := store.Walk(ctx, "repositories/", func(string, storage.Info) error { return errStopWalk })
	if err != nil && !errors.Is(err, errStopWalk) {
		return fmt.Errorf("read store: %w", err)
	}
	return nil
}

var errStopWalk = errors.New("stop walk")

// upstreamSummary lists each upstream's name and URL for the start-up log.
// Credentials are not part of it.
func upstreamSummary(cfg config.Config) []string {
	var out []string
	for _, u := range cfg.Upstreams {
		entry := u.Name + "=" + u.URL
		if u.Username != "" || u.DockerConfig {
			entry += " (authenticated)"
		}
		out = append(out, entry)
	}
	return out
}

// buildUpstreams creates a client per configured upstream. Credential
// references are resolved here, so a broken reference stops start-up with a
// message naming the upstream, then again every credentials_refresh and
// when upstream refuses them, so a rotated secret takes effect without a
// restart.
func buildUpstreams(ctx context.Context, cfg config.Config, log *slog.Logger, m *metrics.Metrics) (map[string]cache.Remote, []server.Upstream, error) {
	obs := credentialsObserver{Rejected: m.CredentialsRejected}
	credentials, err := loadCredentials(ctx, cfg, log, obs)
	if err != nil {
		return nil, nil, err
	}
	remotes := make(map[string]cache.Remote, len(cfg.Upstreams))
	var routes []server.Upstream

	for i, u := range cfg.Upstreams {
		creds := credentials[u.Name]
		go creds.Run(ctx, cfg.CredentialsRefresh)
		client, err := newRegistryClient(u.Name, u.URL, creds, u.Timeouts, cfg, log, m)
		if err != nil {
			return nil, nil, fmt.Errorf("upstreams[%d] (%s): %w", i, u.Name, err)
		}
		m.WatchRateLimit(u.Name, client.RateLimit)
		fallbacks, err := buildFallbacks(ctx, cfg, i, u, log, obs, m)
		if err != nil {
			return nil, nil, err
		}
		remotes[u.Name] = cache.Remote{Client: client, TagTTL: cfg.TagTTLFor(u), QuotaReserve: u.QuotaReserve, Fallbacks: fallbacks}
		route, err := routeFor(u)
		if err != nil {
			return nil, nil, fmt.Errorf("upstreams[%d] (%s): %w", i, u.Name, err)
		}
		routes = append(routes, route)
	}
	return remotes, routes, nil
}

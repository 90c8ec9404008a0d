package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/pullcache/pullcache/internal/admin"
	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/logging"
	"github.com/pullcache/pullcache/internal/metrics"
	"github.com/pullcache/pullcache/internal/status"
	"github.com/pullcache/pullcache/internal/storage"
)

// storeSampleInterval is how often the store's size is measured for the
// metrics and the status page. Each measurement walks the whole store.
// TODO: on an S3 store a walk costs LIST requests; measure less often there,
// or keep the totals from the cache's own writes and evictions.
const storeSampleInterval = time.Minute

// recentErrors is how many warnings and errors the status page lists.
const recentErrors = 20

// observability is the set of logs, metrics and status page that serve
// gives operators.
type observability struct {
	log     *slog.Logger
	recent  *logging.Recent
	metrics *metrics.Metrics
	status  *status.Status
}

func newObservability(cfg config.Config) *observability {
	recent := logging.NewRecent(recentErrors)
	o := &observability{
		log:     newLogger(cfg.LogFormat, recent),
		recent:  recent,
		metrics: metrics.New(),
	}
	o.metrics.NewGauge("build_info", "Always 1; the version label is the running pullcache's version.", "version").
		WithLabelValues(currentVersion()).Set(1)
	return o
}

// mount adds /metrics, the status page and its JSON to the admin listener,
// and starts the samplers that feed them until ctx ends. The returned
// channel closes once the status history was saved a last time.
func (o *observability) mount(ctx context.Context, a *admin.Handler, store storage.Store, cfg config.Config) <-chan struct{} {
	var names []string
	for _, u := range cfg.Upstreams {
		names = append(names, u.Name)
	}
	o.status = status.New(status.Options{
		Metrics:     o.metrics,
		Store:       store,
		Shared:      cfg.Storage.S3 != nil,
		Upstreams:   names,
		Recent:      o.recent,
		StoreWrites: a.StoreWrites,
		Version:     currentVersion(),
		Logger:      o.log,
	})
	if err := o.status.Load(ctx); err != nil {
		o.log.Warn("status history not loaded; starting a new one", slog.Any("err", err))
	}

	a.Handle("GET /metrics", o.metrics.Handler())
	a.Handle("GET /{$}", o.status)
	a.Handle("GET /status", o.status)
	a.Handle("GET /status.json", o.status)

	go o.metrics.RunStoreSampler(ctx, store, storeSampleInterval, o.log)
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.status.Run(ctx, status.DefaultSampleInterval)
	}()
	return done
}

// watchStore returns the store the cache writes to, with every write
// failure reported in the /healthz details and the
// store_write_errors_total metric.
func (o *observability) watchStore(a *admin.Handler, store storage.Store) storage.Store {
	return admin.WatchStoreWrites(store, admin.Reporters{a, o.metrics})
}

// settingsAttr is the effective configuration for the start-up log, with
// literal passwords masked.
func settingsAttr(cfg config.Config) slog.Attr {
	m := cfg.Masked()
	attrs := []any{
		slog.String("listen", m.Listen),
		slog.String("admin_listen", m.AdminListen),
		slog.String("log_format", m.LogFormat),
		slog.Duration("tag_ttl", m.Cache.TagTTL),
		slog.String("max_size", maxSizeText(m.Cache.MaxSize)),
		slog.Duration("gc_grace", m.Cache.GCGrace),
		slog.Bool("upstream_authoritative", m.Cache.UpstreamAuthoritative),
		slog.Duration("credentials_refresh", m.CredentialsRefresh),
		slog.Group("limits",
			slog.Int("max_upstream_fetches", m.Limits.MaxUpstreamFetches),
			slog.Duration("fetch_queue_wait", m.Limits.FetchQueueWait),
			slog.Duration("read_header_timeout", m.Limits.ReadHeaderTimeout),
			slog.Duration("idle_timeout", m.Limits.IdleTimeout),
			slog.String("max_manifest_size", m.Limits.MaxManifestSize.String())),
	}
	if m.Storage.Filesystem != nil {
		attrs = append(attrs, slog.String("storage", "filesystem:"+m.Storage.Filesystem.Root))
	}
	if s3 := m.Storage.S3; s3 != nil {
		attrs = append(attrs, slog.String("storage", "s3:"+s3.Bucket+"/"+s3.Prefix))
	}
	if m.Auth != nil {
		attrs = append(attrs, slog.String("auth.htpasswd", m.Auth.Htpasswd), slog.Any("auth.anonymous_read", m.Auth.AnonymousRead))
	}
	if m.TLS != nil {
		attrs = append(attrs, slog.String("tls.cert", m.TLS.Cert), slog.String("tls.key", m.TLS.Key))
	}
	for i, u := range m.Upstreams {
		up := []any{slog.String("name", u.Name), slog.String("url", u.URL), slog.Bool("default", u.Default),
			slog.Duration("tag_ttl", m.TagTTLFor(u)), slog.Int("quota_reserve", u.QuotaReserve)}
		if u.Username != "" {
			up = append(up, slog.String("username", u.Username), slog.String("password", u.Password))
		}
		attrs = append(attrs, slog.Group(fmt.Sprintf("upstreams.%d", i), up...))
	}
	return slog.Group("config", attrs...)
}

// maxSizeText returns cache.max_size as the log shows it: 0 is no bound.
func maxSizeText(size config.ByteSize) string {
	if size == 0 {
		return "unbounded"
	}
	return size.String()
}

// checkDataDir is the filesystem part of readiness: the data folder must
// exist and be readable. A store's Walk treats a missing folder as empty,
// which is right for a prefix but not for the store's root.
func checkDataDir(root string) error {
	f, err := os.Open(root)
	if err != nil {
		return fmt.Errorf("open data folder: %w", err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read data folder %s: %w", root, err)
	}
	return nil
}

package main

import (
	"context"
	"log/slog"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/evict"
	"github.com/pullcache/pullcache/internal/metrics"
	"github.com/pullcache/pullcache/internal/storage"
)

// startEvictor starts tracking reads and, with cache.max_size set, keeping
// the store under it. gate decides whether this process may remove objects
// now: always on a filesystem store, whose lock the serving process holds,
// and only while holding the bucket's lease on S3. stop ends it and writes
// the access record, so call it after the server stopped. observe
// receives the result of every run, for metrics.
func startEvictor(cfg config.Config, store storage.Store, gate evict.Gate, observe func(evict.Result), log *slog.Logger) (evictor *evict.Evictor, stop func(), err error) {
	evictor, err = evict.New(evict.Options{
		Store:           store,
		Gate:            gate,
		Observe:         observe,
		MaxSize:         int64(cfg.Cache.MaxSize),
		Grace:           cfg.Cache.GCGrace,
		MaxManifestSize: int64(cfg.Limits.MaxManifestSize),
		Logger:          log,
	})
	if err != nil {
		return nil, nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		evictor.Run(ctx)
	}()
	stop = func() {
		cancel()
		<-done
	}
	return evictor, stop, nil
}

// countEviction turns each eviction run's result into metrics.
func countEviction(m *metrics.Metrics) func(evict.Result) {
	return func(r evict.Result) {
		m.EvictionRun(metrics.Eviction{
			Skipped:    r.Skipped,
			Blocked:    r.Blocked,
			Manifests:  r.Manifests,
			Blobs:      r.Blobs,
			Records:    r.Records,
			FreedBytes: r.SizeBefore - r.SizeAfter,
		})
	}
}

package main

import (
	"context"
	"log/slog"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/evict"
	"github.com/pullcache/pullcache/internal/storage"
)

// startEvictor starts tracking reads and, with cache.max_size set, keeping
// the store under it. The serving process holds the filesystem store's
// lock, so no gate is needed; a store shared by several servers needs a
// lease as evict.Options.Gate. stop ends it and writes the access record,
// so call it after the server stopped.
func startEvictor(cfg config.Config, store storage.Store, log *slog.Logger) (evictor *evict.Evictor, stop func(), err error) {
	evictor, err = evict.New(evict.Options{
		Store:           store,
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

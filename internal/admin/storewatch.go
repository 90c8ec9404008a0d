package admin

import (
	"context"

	"github.com/pullcache/pullcache/internal/storage"
)

// WatchStoreWrites returns store with every write reported to r: a failed
// Create, Write or Commit as StoreWriteFailed, a successful Commit as
// StoreWriteSucceeded. Reads pass through untouched.
//
// The returned store has only the storage.Store methods. A backend
// capability found by type assertion (such as presigned URLs) must be
// forwarded here when one is added.
func WatchStoreWrites(store storage.Store, r StoreWriteReporter) storage.Store {
	return &watchedStore{Store: store, r: r}
}

type watchedStore struct {
	storage.Store
	r StoreWriteReporter
}

func (s *watchedStore) Create(ctx context.Context, key string) (storage.Writer, error) {
	w, err := s.Store.Create(ctx, key)
	if err != nil {
		s.report(ctx, err)
		return nil, err
	}
	return &watchedWriter{Writer: w, s: s, ctx: ctx}, nil
}

// report passes on a failure unless it is the caller's cancellation,
// which is no fault of the store.
func (s *watchedStore) report(ctx context.Context, err error) {
	if ctx.Err() == nil {
		s.r.StoreWriteFailed(err)
	}
}

type watchedWriter struct {
	storage.Writer
	s        *watchedStore
	ctx      context.Context
	reported bool
}

func (w *watchedWriter) Write(p []byte) (int, error) {
	n, err := w.Writer.Write(p)
	if err != nil && !w.reported {
		w.reported = true
		w.s.report(w.ctx, err)
	}
	return n, err
}

func (w *watchedWriter) Commit(ctx context.Context) error {
	err := w.Writer.Commit(ctx)
	switch {
	case err != nil && !w.reported:
		w.reported = true
		w.s.report(ctx, err)
	case err == nil:
		w.s.r.StoreWriteSucceeded()
	}
	return err
}

package admin

import (
	"context"
	"errors"
	"io"

	"github.com/pullcache/pullcache/internal/storage"
)

// WatchStoreWrites returns store with every write reported to r: a failed
// Create, Write or Commit as StoreWriteFailed, a successful Commit as
// StoreWriteSucceeded. A failed Stat or Open other than a missing object
// goes to r's StoreReadFailed when r implements StoreReadReporter.
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

func (s *watchedStore) Stat(ctx context.Context, key string) (storage.Info, error) {
	info, err := s.Store.Stat(ctx, key)
	s.reportRead(ctx, err)
	return info, err
}

func (s *watchedStore) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, storage.Info, error) {
	r, info, err := s.Store.Open(ctx, key, offset)
	s.reportRead(ctx, err)
	return r, info, err
}

// reportRead passes on a read failure unless the object is missing or the
// caller canceled.
func (s *watchedStore) reportRead(ctx context.Context, err error) {
	if err == nil || errors.Is(err, storage.ErrNotFound) || ctx.Err() != nil {
		return
	}
	if rr, ok := s.r.(StoreReadReporter); ok {
		rr.StoreReadFailed(err)
	}
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

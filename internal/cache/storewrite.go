package cache

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// WriteObserver counts store writes that failed. Kind is "blob",
// "manifest", "tag" or "referrers". It must not block.
type WriteObserver interface {
	StoreWriteFailed(kind string)
}

type noWriteObserver struct{}

func (noWriteObserver) StoreWriteFailed(string) {}

// writeFailureLogInterval bounds how often failed store writes are logged
// while they keep failing, so a full disk does not flood the log with one
// error per request.
const writeFailureLogInterval = time.Minute

// writeFailures tracks failing store writes. The first failure after a
// success is logged as an error, repeats within writeFailureLogInterval
// are only counted, and the first success afterwards is logged, so the log
// shows when storing stopped and when it resumed.
type writeFailures struct {
	log      *slog.Logger
	observer WriteObserver
	now      func() time.Time

	mu         sync.Mutex
	failing    bool
	lastLogged time.Time
	suppressed int
}

// failed counts one failed write of kind and logs it, with the request id
// that ctx carries, unless a failure was logged recently.
func (w *writeFailures) failed(ctx context.Context, kind, key string, err error) {
	w.observer.StoreWriteFailed(kind)

	w.mu.Lock()
	now := w.now()
	logNow := !w.failing || now.Sub(w.lastLogged) >= writeFailureLogInterval
	suppressed := w.suppressed
	if logNow {
		w.lastLogged = now
		w.suppressed = 0
	} else {
		w.suppressed++
	}
	w.failing = true
	w.mu.Unlock()

	if logNow {
		w.log.ErrorContext(ctx, "store write failed; serving from upstream without storing",
			slog.String("kind", kind), slog.String("key", key), slog.Int("failures_not_logged", suppressed), slog.Any("err", err))
	}
}

// succeeded ends a run of failures.
func (w *writeFailures) succeeded() {
	w.mu.Lock()
	wasFailing := w.failing
	w.failing = false
	w.suppressed = 0
	w.mu.Unlock()

	if wasFailing {
		w.log.Info("store writes succeed again; storing resumed")
	}
}

// errSpoolFull means the spool file could not reserve room for a blob. The
// fetch fails before any client received a byte, and the clients get the
// blob streamed from upstream instead.
var errSpoolFull = errors.New("no room for the blob's spool file")

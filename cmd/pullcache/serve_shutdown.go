package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
)

// activeRequests counts the requests a server is handling, so that a
// shutdown that runs out of time can say how many it cut off.
type activeRequests struct{ n atomic.Int64 }

func (a *activeRequests) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.n.Add(1)
		defer a.n.Add(-1)
		next.ServeHTTP(w, r)
	})
}

func (a *activeRequests) count() int64 { return a.n.Load() }

// shutDownServer stops srv, letting the requests in progress finish until
// ctx ends. Requests still running then are cut off and logged as a
// warning. It returns no error because cutting them off is still the stop
// that was requested, and a stop that exits with status 1 would count as a
// failure to systemd.
func shutDownServer(ctx context.Context, srv *http.Server, active *activeRequests, log *slog.Logger) {
	err := srv.Shutdown(ctx)
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		return
	}

	cutOff := active.count()
	closeErr := srv.Close()
	if errors.Is(err, context.DeadlineExceeded) {
		log.Warn("shutdown deadline passed; cut off the requests still in progress",
			slog.Duration("grace", shutdownTimeout), slog.Int64("requests", cutOff))
		return
	}
	log.Warn("shut down the registry server", slog.Any("err", errors.Join(err, closeErr)), slog.Int64("requests", cutOff))
}

package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// activeRequests counts the requests a server is handling, so that a
// shutdown that runs out of time can report how many it cut off.
type activeRequests struct{ n atomic.Int64 }

func (a *activeRequests) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.n.Add(1)
		defer a.n.Add(-1)
		next.ServeHTTP(w, r)
	})
}

func (a *activeRequests) count() int64 { return a.n.Load() }

// shutDownServer stops srv, letting the requests in progress finish for up
// to grace. Requests still running then are cut off and logged as a
// warning. It returns no error because cutting them off is still the stop
// that was requested, and a stop that exits with status 1 would count as a
// failure to systemd.
func shutDownServer(srv *http.Server, active *activeRequests, grace time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		return
	}

	cutOff := active.count()
	closeErr := srv.Close()
	if errors.Is(err, context.DeadlineExceeded) {
		log.Warn("shutdown deadline passed; cut off the requests still in progress",
			slog.Duration("grace", grace), slog.Int64("requests", cutOff))
		return
	}
	log.Warn("registry server shutdown failed; closed its connections", slog.Any("err", errors.Join(err, closeErr)), slog.Int64("requests", cutOff))
}

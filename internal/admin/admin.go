// Package admin serves the operator endpoints on their own listener:
// /healthz (the process serves, with details as JSON), /readyz (it can
// serve pulls now) and whatever else is mounted with Handle, such as
// /metrics and the status page.
package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// readyTimeout bounds one readiness check, so a hung store makes the probe
// fail instead of hang.
const readyTimeout = 5 * time.Second

// Handler serves the admin endpoints. Its zero value is not usable; call New.
type Handler struct {
	ready    func(ctx context.Context) error
	stopping atomic.Bool
	writes   storeWrites
	mux      *http.ServeMux
}

var _ StoreWriteReporter = (*Handler)(nil)

// New returns a handler whose /readyz calls ready, which should check that
// the store can be read.
func New(ready func(ctx context.Context) error) *Handler {
	h := &Handler{ready: ready, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /healthz", h.serveHealth)
	h.mux.HandleFunc("GET /readyz", h.serveReady)
	return h
}

// Handle mounts handler on the admin listener under pattern, as
// http.ServeMux patterns go ("GET /metrics").
func (h *Handler) Handle(pattern string, handler http.Handler) { h.mux.Handle(pattern, handler) }

// SetStopping makes /readyz fail from now on, so that load balancers stop
// sending pulls while the server drains.
func (h *Handler) SetStopping() { h.stopping.Store(true) }

// StoreWriteFailed records a failed store write for /healthz.
func (h *Handler) StoreWriteFailed(err error) { h.writes.failed(err, time.Now()) }

// StoreWriteSucceeded clears the failing state of store writes.
func (h *Handler) StoreWriteSucceeded() { h.writes.succeeded() }

// StoreWrites returns the store-write state that /healthz reports.
func (h *Handler) StoreWrites() StoreWriteHealth { return h.writes.health() }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Health is the /healthz body. Status is "ok", or "degraded" while store
// writes fail. Both return 200, because the process still serves pulls.
type Health struct {
	Status      string           `json:"status"`
	Stopping    bool             `json:"stopping"`
	StoreWrites StoreWriteHealth `json:"store_writes"`
}

func (h *Handler) serveHealth(w http.ResponseWriter, _ *http.Request) {
	health := Health{Status: "ok", Stopping: h.stopping.Load(), StoreWrites: h.writes.health()}
	if health.StoreWrites.Failing {
		health.Status = "degraded"
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(health)
}

func (h *Handler) serveReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if h.stopping.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready: shutting down")
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := h.ready(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %v\n", err)
		return
	}
	fmt.Fprintln(w, "ok")
}

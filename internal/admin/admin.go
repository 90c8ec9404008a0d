// Package admin serves the operator endpoints on their own listener:
// /healthz (the process serves) and /readyz (it can serve pulls now).
package admin

import (
	"context"
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
	mux      *http.ServeMux
}

// New returns a handler whose /readyz calls ready, which should check that
// the store can be read.
func New(ready func(ctx context.Context) error) *Handler {
	h := &Handler{ready: ready, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /healthz", h.serveHealth)
	h.mux.HandleFunc("GET /readyz", h.serveReady)
	return h
}

// SetStopping makes /readyz fail from now on, so that load balancers stop
// sending pulls while the server drains.
func (h *Handler) SetStopping() { h.stopping.Store(true) }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
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

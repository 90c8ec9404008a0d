// Package logging builds pullcache's slog handlers: text or JSON output, a
// request id taken from the context, repeated identical warnings held back,
// and a ring of the latest warnings and errors for the status page.
package logging

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// RepeatWindow is how long an identical warning or error is held back
// after it was logged once.
const RepeatWindow = time.Minute

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id, which every record
// logged with that context gets as request_id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id that ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Options configures New.
type Options struct {
	Format string // "json", or text for anything else
	Level  slog.Leveler
	// Recent, when set, receives every warning and error.
	Recent *Recent
	// Clock is the time source of the repeat window; nil means time.Now.
	Clock func() time.Time
}

// New returns a logger writing to w. Records get the context's request id,
// and durations are written as text such as "5m0s". Identical warnings and
// errors within RepeatWindow are logged once, and the next one after the
// window reports how many were held back. Every warning and error also goes
// to o.Recent.
func New(w io.Writer, o Options) *slog.Logger {
	opts := &slog.HandlerOptions{Level: o.Level, ReplaceAttr: durationAsText}
	var h slog.Handler
	if o.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	if o.Recent != nil {
		h = &recentHandler{next: h, recent: o.Recent}
	}
	h = newRepeatHandler(h, RepeatWindow, o.Clock)
	return slog.New(&requestIDHandler{next: h})
}

// durationAsText writes a time.Duration as text such as "5m0s", in JSON as
// in text output, where slog's JSON handler would write nanoseconds.
func durationAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// requestIDHandler adds request_id from the context to records that do
// not name one themselves.
type requestIDHandler struct{ next slog.Handler }

func (h *requestIDHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" && !hasAttr(r, "request_id") {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.next.Handle(ctx, r)
}

func (h *requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &requestIDHandler{next: h.next.WithAttrs(as)}
}

func (h *requestIDHandler) WithGroup(name string) slog.Handler {
	return &requestIDHandler{next: h.next.WithGroup(name)}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}

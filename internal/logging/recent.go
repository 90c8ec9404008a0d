package logging

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Entry is one warning or error kept for the status page.
type Entry struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
	// Upstream, Error and RequestID come from the record's attributes of
	// those names (upstream, err, request_id) when present.
	Upstream  string `json:"upstream,omitempty"`
	Error     string `json:"error,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// Recent keeps the latest warnings and errors. It is safe for concurrent
// use.
type Recent struct {
	mu      sync.Mutex
	entries []Entry
	size    int
}

// NewRecent returns a ring of the last size entries.
func NewRecent(size int) *Recent { return &Recent{size: size} }

// Add appends e, dropping the oldest entry when the ring is full.
func (r *Recent) Add(e Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) >= r.size {
		r.entries = slices.Delete(r.entries, 0, len(r.entries)-r.size+1)
	}
	r.entries = append(r.entries, e)
}

// Entries returns the entries, newest first.
func (r *Recent) Entries() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.entries)
	slices.Reverse(out)
	return out
}

// recentHandler copies warnings and errors to a Recent.
type recentHandler struct {
	next   slog.Handler
	recent *Recent
	attrs  []slog.Attr
}

func (h *recentHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *recentHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		e := Entry{Time: r.Time, Level: r.Level.String(), Message: r.Message}
		note := func(a slog.Attr) bool {
			switch a.Key {
			case "upstream":
				e.Upstream = a.Value.String()
			case "err":
				e.Error = a.Value.String()
			case "request_id":
				e.RequestID = a.Value.String()
			}
			return true
		}
		for _, a := range h.attrs {
			note(a)
		}
		r.Attrs(note)
		h.recent.Add(e)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *recentHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &recentHandler{next: h.next.WithAttrs(as), recent: h.recent, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h *recentHandler) WithGroup(name string) slog.Handler {
	return &recentHandler{next: h.next.WithGroup(name), recent: h.recent, attrs: h.attrs}
}

package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// maxTracked bounds the number of distinct warnings remembered; older
// entries are dropped first when it is reached.
const maxTracked = 1024

// repeatHandler logs a warning or error once per window. Two records are
// identical when level, message and attributes match, except the request
// id, which differs on every request.
type repeatHandler struct {
	next   slog.Handler
	prefix string // the attributes added with WithAttrs and WithGroup
	state  *repeatState
}

type repeatState struct {
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]*repeat
}

type repeat struct {
	logged   time.Time
	withheld int
}

func newRepeatHandler(next slog.Handler, window time.Duration, clock func() time.Time) *repeatHandler {
	if clock == nil {
		clock = time.Now
	}
	return &repeatHandler{next: next, state: &repeatState{window: window, now: clock, seen: map[string]*repeat{}}}
}

func (h *repeatHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *repeatHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}

	withheld, pass := h.state.check(h.prefix + recordKey(r))
	if !pass {
		return nil
	}
	if withheld > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeated", withheld))
	}
	return h.next.Handle(ctx, r)
}

// check reports whether a record with key is logged now, and how many
// identical ones were held back since it last was.
func (s *repeatState) check(key string) (withheld int, pass bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()

	if e, ok := s.seen[key]; ok && now.Sub(e.logged) < s.window {
		e.withheld++
		return 0, false
	}
	if e, ok := s.seen[key]; ok {
		withheld = e.withheld
	}
	if len(s.seen) >= maxTracked {
		s.pruneLocked(now)
	}
	s.seen[key] = &repeat{logged: now}
	return withheld, true
}

// pruneLocked drops entries whose window has passed, or every entry when
// none has.
func (s *repeatState) pruneLocked(now time.Time) {
	for k, e := range s.seen {
		if now.Sub(e.logged) >= s.window {
			delete(s.seen, k)
		}
	}
	if len(s.seen) >= maxTracked {
		clear(s.seen)
	}
}

func recordKey(r slog.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "request_id" {
			fmt.Fprintf(&b, "\x00%s=%v", a.Key, a.Value)
		}
		return true
	})
	return b.String()
}

func (h *repeatHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range as {
		fmt.Fprintf(&b, "%s=%v\x00", a.Key, a.Value)
	}
	return &repeatHandler{next: h.next.WithAttrs(as), prefix: b.String(), state: h.state}
}

func (h *repeatHandler) WithGroup(name string) slog.Handler {
	return &repeatHandler{next: h.next.WithGroup(name), prefix: h.prefix + name + ".", state: h.state}
}

package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pullcache/pullcache/internal/storage"
)

// HistoryKey is the store key of the status history on a store that one
// process owns, such as the filesystem store.
const HistoryKey = "status/history.json"

// HistorySpan is how far back the history goes.
const HistorySpan = 24 * time.Hour

// maxHistoryBytes caps the history file read at start-up.
const maxHistoryBytes = 8 << 20

// Point is one upstream's state at one sample.
type Point struct {
	At time.Time `json:"at"`
	// Limit and Remaining are the last seen rate-limit headers; Quota is
	// false when none had been seen by then.
	Quota     bool `json:"quota"`
	Limit     int  `json:"limit,omitempty"`
	Remaining int  `json:"remaining,omitempty"`
	// Answered and Spent are the running totals of pulls served to
	// clients and pulls spent upstream, across restarts.
	Answered float64 `json:"answered"`
	Spent    float64 `json:"spent"`
}

// Totals are running totals of pulls, kept across restarts.
type Totals struct {
	Answered float64 `json:"answered"`
	Spent    float64 `json:"spent"`
}

// historyFile is the stored form of the history.
type historyFile struct {
	Version   int                         `json:"version"`
	Since     time.Time                   `json:"since"`
	Upstreams map[string]*upstreamHistory `json:"upstreams"`
}

type upstreamHistory struct {
	// Totals are the running totals at the last save.
	Totals Totals  `json:"totals"`
	Points []Point `json:"points"`
}

// history is the sampled state of every upstream over the last
// HistorySpan, and the running totals of the runs before this one.
type history struct {
	mu sync.Mutex
	// key is the store key of the stored history. An empty key keeps the history
	// in memory only.
	key  string
	file historyFile
	// base is the running totals at start-up; this run's counters add to it.
	base map[string]Totals
}

func newHistory(now time.Time, key string) *history {
	return &history{
		key:  key,
		file: historyFile{Version: 1, Since: now, Upstreams: map[string]*upstreamHistory{}},
		base: map[string]Totals{},
	}
}

// load reads the stored history. A missing one is not an error.
func (h *history) load(ctx context.Context, store storage.Store) error {
	if h.key == "" {
		return nil
	}
	r, _, err := store.Open(ctx, h.key, 0)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", h.key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxHistoryBytes))
	if err != nil {
		return fmt.Errorf("read %s: %w", h.key, err)
	}

	var file historyFile
	if err := json.Unmarshal(data, &file); err != nil {
		return fmt.Errorf("parse %s: %w", h.key, err)
	}
	if file.Version != 1 {
		return fmt.Errorf("parse %s: unknown version %d", h.key, file.Version)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	h.file.Since = file.Since
	for name, u := range file.Upstreams {
		if u == nil {
			continue
		}
		h.file.Upstreams[name] = u
		h.base[name] = u.Totals
	}
	return nil
}

// save writes the history to the store, replacing the stored one.
func (h *history) save(ctx context.Context, store storage.Store) error {
	if h.key == "" {
		return nil
	}
	h.mu.Lock()
	data, err := json.Marshal(h.file)
	h.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode status history: %w", err)
	}

	w, err := store.Create(ctx, h.key)
	if err != nil {
		return fmt.Errorf("write %s: %w", h.key, err)
	}
	defer w.Abort()
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("write %s: %w", h.key, err)
	}
	if err := w.Commit(ctx); err != nil {
		return fmt.Errorf("write %s: %w", h.key, err)
	}
	return nil
}

// totals returns the running totals of name: those of earlier runs plus
// this run's counters.
func (h *history) totals(name string, answered, spent float64) Totals {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.base[name]
	return Totals{Answered: b.Answered + answered, Spent: b.Spent + spent}
}

// add appends p to name's points, drops points older than HistorySpan and
// records p's totals for the next save.
func (h *history) add(name string, p Point) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.file.Upstreams[name]
	if u == nil {
		u = &upstreamHistory{}
		h.file.Upstreams[name] = u
	}
	u.Totals = Totals{Answered: p.Answered, Spent: p.Spent}
	u.Points = append(u.Points, p)

	cut := 0
	for cut < len(u.Points) && p.At.Sub(u.Points[cut].At) > HistorySpan {
		cut++
	}
	u.Points = append([]Point(nil), u.Points[cut:]...)
}

// points returns a copy of name's points.
func (h *history) points(name string) []Point {
	h.mu.Lock()
	defer h.mu.Unlock()
	if u := h.file.Upstreams[name]; u != nil {
		return append([]Point(nil), u.Points...)
	}
	return nil
}

func (h *history) since() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.file.Since
}

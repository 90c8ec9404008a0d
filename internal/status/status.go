// Package status serves the operator's status page on the admin listener,
// as HTML with inline SVG charts and as JSON. For each upstream it shows
// the quota left over the last day against its limit, and the pulls
// served to clients against the pulls spent upstream. It also shows the
// hit ratio, the store's usage and the latest errors. The history behind
// the charts is kept in the store, so a restart does not erase it.
package status

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/pullcache/pullcache/internal/admin"
	"github.com/pullcache/pullcache/internal/logging"
	"github.com/pullcache/pullcache/internal/metrics"
	"github.com/pullcache/pullcache/internal/storage"
)

// DefaultSampleInterval is how often the history gets a point and is
// saved to the store.
const DefaultSampleInterval = 5 * time.Minute

// DefaultRefresh is how often the page reloads itself.
const DefaultRefresh = 30 * time.Second

// Options configures New. Metrics, Store and Upstreams are required.
type Options struct {
	Metrics *metrics.Metrics
	Store   storage.Store
	// Shared is true when several replicas share Store, as on S3. Each
	// replica then keeps its own history under ReplicaHistoryKey, so its
	// page shows its own pulls only. Otherwise the history is at HistoryKey.
	Shared bool
	// Replica names this process on a shared store; empty means the host
	// name, which in Kubernetes is the pod name.
	Replica string
	// Upstreams lists the configured upstream names in configuration order.
	Upstreams []string
	// Recent holds the latest warnings and errors; nil shows none.
	Recent *logging.Recent
	// StoreWrites reports the store-write health; nil shows none.
	StoreWrites func() admin.StoreWriteHealth
	Version     string
	Logger      *slog.Logger
	// Refresh is the page's reload interval; 0 means DefaultRefresh.
	Refresh time.Duration
	Clock   func() time.Time
}

// Status keeps the history and serves the page. Create it with New.
type Status struct {
	o       Options
	history *history
	started time.Time
	// keyErr is the reason a shared store's history is kept in memory
	// only, or nil.
	keyErr error
}

// New returns a Status with an empty history; call Load to read the
// stored one.
func New(o Options) *Status {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	now := o.Clock()
	key, keyErr := historyKey(&o)
	return &Status{o: o, history: newHistory(now, key), started: now, keyErr: keyErr}
}

// historyKey returns the store key of this process's history and fills in
// o.Replica on a shared store. It returns an empty key and an error when
// a shared store's replica has no usable name.
func historyKey(o *Options) (string, error) {
	if !o.Shared {
		return HistoryKey, nil
	}
	if o.Replica == "" {
		name, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("name this replica's status history: %w", err)
		}
		o.Replica = name
	}
	return ReplicaHistoryKey(o.Replica)
}

// Load reads the history kept in the store by earlier runs. On a shared
// store without a usable replica name it returns an error, and the
// history is then kept in memory only.
func (s *Status) Load(ctx context.Context) error {
	if s.keyErr != nil {
		return fmt.Errorf("status history kept in memory only: %w", s.keyErr)
	}
	return s.history.load(ctx, s.o.Store)
}

// Sample adds the current state of every upstream to the history and saves
// it to the store.
func (s *Status) Sample(ctx context.Context) error {
	sum, err := s.o.Metrics.Summarize(s.o.Upstreams)
	if err != nil {
		return err
	}
	now := s.o.Clock()
	for _, name := range s.o.Upstreams {
		u := sum.Upstreams[name]
		totals := s.history.totals(name, u.PullsAnswered, u.PullsSpent)
		p := Point{At: now, Answered: totals.Answered, Spent: totals.Spent}
		if u.RateLimit != nil {
			p.Quota, p.Limit, p.Remaining = true, u.RateLimit.Limit, u.RateLimit.Remaining
		}
		s.history.add(name, p)
	}
	if err := s.history.save(ctx, s.o.Store); err != nil {
		return fmt.Errorf("save status history: %w", err)
	}
	return nil
}

// Run samples at once and every interval until ctx ends, then takes a last sample so
// that a restart keeps the totals up to the moment of shutdown.
func (s *Status) Run(ctx context.Context, interval time.Duration) {
	// A first point at start-up gives the charts a start for this run.
	if err := s.Sample(ctx); err != nil && ctx.Err() == nil {
		s.o.Logger.Warn("sample status history", slog.Any("err", err))
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := s.Sample(final); err != nil {
				s.o.Logger.Warn("save status history at shutdown", slog.Any("err", err))
			}
			return
		case <-ticker.C:
			if err := s.Sample(ctx); err != nil && ctx.Err() == nil {
				s.o.Logger.Warn("sample status history", slog.Any("err", err))
			}
		}
	}
}

// Package evict keeps a store within its configured size. It removes the
// least recently used manifests with their tag, _digests and _referrers
// records, and the blobs that no stored manifest names any more. Blobs that
// no manifest names go first. It also removes what gc collects.
//
// It works on storage.Store alone, so it runs the same on every backend.
// A Gate decides which process may remove objects. On a filesystem store
// the serving process holds the store's lock, so it always may. On a
// shared store the gate can be a lease.
package evict

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/storage"
)

// Gate decides whether this process may remove objects now. When ok, the
// caller runs and then calls release. A gate that returns !ok skips the
// run: another process holds the right.
type Gate func(ctx context.Context) (release func(), ok bool)

// AlwaysGate lets every run go ahead. It fits a store that only one process
// writes, such as a filesystem store under the serving process's lock.
func AlwaysGate(context.Context) (func(), bool) { return func() {}, true }

// Defaults of Options.
const (
	// DefaultInterval is how often the store is measured when this process
	// committed too little to trigger a run. Other processes sharing the
	// store may have filled it.
	DefaultInterval = 5 * time.Minute
	// DefaultFlushInterval is how often read times are written to the
	// access record. A crash loses at most this much history.
	DefaultFlushInterval = time.Minute
	// defaultLowWater is where a run stops, in percent of max size: 90%,
	// so that each run frees room for a while instead of one object at a
	// time.
	defaultLowWater = 90
	// flushTimeout bounds the last flush at shutdown.
	flushTimeout = 10 * time.Second
	// remeasurePercent is how much this process commits, in percent of
	// max size, before it measures the store again even though its own
	// commits leave it under. Other processes sharing the store commit
	// too, so each of them can push the store at most this far past its
	// size before one of them measures it.
	remeasurePercent = 10
	// defaultSkipRetry is how soon a run that the gate skipped is tried again
	// while this process's commits still call for one. The holder of the
	// gate usually ends its run within seconds, and its measure missed
	// what this process committed since.
	defaultSkipRetry = 5 * time.Second
)

// Options configures an Evictor. Store is required.
type Options struct {
	Store storage.Store
	// MaxSize is the size in bytes the store is kept under. Zero means no
	// bound: read times are still tracked, nothing is removed.
	MaxSize int64
	// Grace protects objects committed less than this long ago.
	Grace time.Duration
	// Gate decides whether this process may remove objects; nil is AlwaysGate.
	Gate Gate
	// MaxManifestSize is the configured manifest size limit; default 4 MiB.
	MaxManifestSize int64
	// Interval and FlushInterval default to DefaultInterval and
	// DefaultFlushInterval.
	Interval      time.Duration
	FlushInterval time.Duration
	Logger        *slog.Logger // nil discards logs
	Clock         func() time.Time
	// Observe, when set, receives the result of every run, including those
	// the gate skipped, for metrics. It must not block.
	Observe func(Result)
}

// Evictor tracks reads of stored objects and removes the least recently
// used when the store grows past its size. It implements
// cache.AccessRecorder. It is safe for concurrent use.
type Evictor struct {
	store         storage.Store
	maxSize       int64
	grace         time.Duration
	gate          Gate
	maxRecordSize int64
	interval      time.Duration
	flushInterval time.Duration
	log           *slog.Logger
	now           func() time.Time
	observe       func(Result)

	// lowWater is the size at which a run stops, in percent of maxSize.
	lowWater int64
	// skipRetry is the delay before a skipped run is tried again.
	skipRetry time.Duration

	tracker *tracker
	// runMu serializes runs; manifestBlobs is only used under it.
	runMu sync.Mutex
	// manifestBlobs holds the blobs each stored manifest names, from the
	// last run.
	manifestBlobs map[digest.Digest][]digest.Digest
	// total is the store's size at the last run, in bytes.
	total atomic.Int64
	poke  chan struct{}
}

var _ cache.AccessRecorder = (*Evictor)(nil)

// New returns an evictor. Call Run to start it.
func New(o Options) (*Evictor, error) {
	if o.Store == nil {
		return nil, errors.New("evict: no store configured")
	}
	if o.MaxSize < 0 {
		return nil, fmt.Errorf("evict: negative max size %d", o.MaxSize)
	}
	if o.Gate == nil {
		o.Gate = AlwaysGate
	}
	if o.MaxManifestSize <= 0 {
		o.MaxManifestSize = 4 << 20
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Observe == nil {
		o.Observe = func(Result) {}
	}
	return &Evictor{
		store:         o.Store,
		maxSize:       o.MaxSize,
		grace:         o.Grace,
		gate:          o.Gate,
		maxRecordSize: cache.MaxRecordSize(o.MaxManifestSize),
		interval:      o.Interval,
		flushInterval: o.FlushInterval,
		log:           o.Logger,
		now:           o.Clock,
		observe:       o.Observe,
		lowWater:      defaultLowWater,
		skipRetry:     defaultSkipRetry,
		tracker:       newTracker(o.Clock),
		manifestBlobs: make(map[digest.Digest][]digest.Digest),
		poke:          make(chan struct{}, 1),
	}, nil
}

// Touched records a read of key.
func (e *Evictor) Touched(key string) { e.tracker.Touched(key) }

// Hold keeps key from being removed until release is called.
func (e *Evictor) Hold(key string) (release func()) { return e.tracker.Hold(key) }

// Stored records a commit and starts a run when the store may have grown
// past its size.
func (e *Evictor) Stored(key string, size int64) {
	e.tracker.Stored(key, size)
	if e.due() {
		select {
		case e.poke <- struct{}{}:
		default:
		}
	}
}

// due reports whether this process's commits since the last run call for
// a run: they may have pushed the store past its size, or they are enough
// that what other processes sharing the store committed meanwhile may
// have.
func (e *Evictor) due() bool {
	if e.maxSize == 0 {
		return false
	}
	pending := e.tracker.pendingAdded()
	return e.total.Load()+pending > e.maxSize || pending*100 >= e.maxSize*remeasurePercent
}

// Run loads the access record, then measures the store and evicts when it
// is over its size: at start, after commits that may have filled it, and
// every Interval. It writes the access record every FlushInterval and once
// more when ctx ends, and returns then.
func (e *Evictor) Run(ctx context.Context) {
	// A server that fails to start stops the evictor at once, which cancels
	// ctx during this read. The stored record is then left in the store, and
	// the final flush merges it before writing, so nothing is logged.
	if err := e.tracker.load(ctx, e.store); err != nil && ctx.Err() == nil {
		e.log.Warn("read times from the previous run are lost; eviction order starts from commit times", slog.Any("err", err))
	}
	measure := time.NewTicker(e.interval)
	defer measure.Stop()
	flush := time.NewTicker(e.flushInterval)
	defer flush.Stop()

	if e.maxSize > 0 {
		e.runLogged(ctx)
	}
	// retry fires after a poked run was skipped; nil while none was.
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			e.flushLogged(context.WithoutCancel(ctx))
			return
		case <-flush.C:
			e.flushLogged(ctx)
		case <-measure.C:
			if e.maxSize > 0 {
				e.runLogged(ctx)
			}
		case <-e.poke:
			retry = e.runOrRetry(ctx)
		case <-retry:
			retry = nil
			if e.due() {
				retry = e.runOrRetry(ctx)
			}
		}
	}
}

// runOrRetry runs and, when the gate skipped the run, returns a timer for
// trying again; else nil.
func (e *Evictor) runOrRetry(ctx context.Context) <-chan time.Time {
	if e.runLogged(ctx).Skipped {
		return time.After(e.skipRetry)
	}
	return nil
}

func (e *Evictor) flushLogged(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	if err := e.tracker.flush(ctx, e.store); err != nil {
		e.log.Warn("write access record", slog.Any("err", err))
	}
}

func (e *Evictor) runLogged(ctx context.Context) Result {
	res, err := e.RunOnce(ctx)
	e.observe(res)
	if err != nil && ctx.Err() == nil {
		e.log.Error("eviction run failed", slog.Any("err", err))
		return res
	}
	if res.Removed() > 0 {
		e.log.Info("evicted least recently used content", slog.Int64("size_before", res.SizeBefore),
			slog.Int64("size_after", res.SizeAfter), slog.Int64("max_size", e.maxSize),
			slog.Int("manifests", res.Manifests), slog.Int("blobs", res.Blobs), slog.Int("records", res.Records))
	}
	if res.Blocked {
		e.log.Warn("store stays over max_size: everything left is in use or younger than gc_grace",
			slog.Int64("size", res.SizeAfter), slog.Int64("max_size", e.maxSize), slog.Duration("gc_grace", e.grace))
	}
	return res
}

// Result reports one eviction run.
type Result struct {
	// Skipped is true when the gate did not let the run go ahead.
	Skipped               bool
	SizeBefore, SizeAfter int64
	Manifests, Blobs      int
	// Records counts the tag, _digests and _referrers records removed with
	// their manifests.
	Records int
	// Blocked is true when the store stayed over its target because what
	// was left is in use or younger than the grace period.
	Blocked bool
}

// Removed returns the number of objects the run removed.
func (r Result) Removed() int { return r.Manifests + r.Blobs + r.Records }

// RunOnce measures the store and, when it is over its size, removes least
// recently used content until it is under 90% of its size.
func (e *Evictor) RunOnce(ctx context.Context) (Result, error) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	release, ok := e.gate(ctx)
	if !ok {
		return Result{Skipped: true}, nil
	}
	defer release()

	e.tracker.takeAdded()
	inv, err := takeInventory(ctx, e.store, e.maxRecordSize, e.tracker, e.manifestBlobs)
	if err != nil {
		return Result{}, err
	}
	e.total.Store(inv.total)
	e.tracker.retain(inv)

	res := Result{SizeBefore: inv.total, SizeAfter: inv.total}
	if e.maxSize == 0 || inv.total <= e.maxSize {
		return res, nil
	}
	target := e.maxSize - e.maxSize*(100-e.lowWater)/100
	res, err = e.evict(ctx, inv, target)
	e.total.Store(res.SizeAfter)
	return res, err
}

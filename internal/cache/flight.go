package cache

import (
	"context"
	"sync"

	"golang.org/x/sync/singleflight"
)

// flightGroup runs one function per key at a time and hands its result to
// every caller that asked meanwhile. The function runs on a context that a
// departing caller does not cancel, so a fetch that one client started
// still completes and is stored for the others.
type flightGroup[T any] struct {
	group singleflight.Group
	// onJoin, when set, is called for each caller that joined a call
	// already in progress, for the coalesced-requests metric.
	onJoin func()

	mu      sync.Mutex
	waiting map[string]int // callers of do per key that have not returned
}

func (g *flightGroup[T]) do(ctx context.Context, key string, fn func(ctx context.Context) (T, error)) (result T, shared bool, err error) {
	g.enter(key)
	defer g.leave(key)

	detached := context.WithoutCancel(ctx)
	ch := g.group.DoChan(key, func() (any, error) {
		return fn(detached)
	})

	select {
	case r := <-ch:
		if r.Err != nil {
			return result, r.Shared, r.Err
		}
		return r.Val.(T), r.Shared, nil
	case <-ctx.Done():
		return result, false, ctx.Err()
	}
}

// enter counts a caller of key and reports it as joined when another
// caller is still waiting for the same key. In the instant a call ends,
// a caller may be counted as joined and still start a new call, or the
// other way round, so the count is close but not exact.
func (g *flightGroup[T]) enter(key string) {
	g.mu.Lock()
	if g.waiting == nil {
		g.waiting = map[string]int{}
	}
	joined := g.waiting[key] > 0
	g.waiting[key]++
	g.mu.Unlock()

	if joined && g.onJoin != nil {
		g.onJoin()
	}
}

func (g *flightGroup[T]) leave(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.waiting[key] <= 1 {
		delete(g.waiting, key)
		return
	}
	g.waiting[key]--
}

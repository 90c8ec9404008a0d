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

	mu       sync.Mutex
	inFlight map[string]struct{}
}

func (g *flightGroup[T]) do(ctx context.Context, key string, fn func(ctx context.Context) (T, error)) (result T, shared bool, err error) {
	g.noteCaller(key)
	detached := context.WithoutCancel(ctx)
	ch := g.group.DoChan(key, func() (any, error) {
		defer g.forget(key)
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

// noteCaller marks key as in flight and reports a caller that found it so.
// A caller that arrives in the instant between forget and singleflight's
// own cleanup shares a result without being counted; the count is a lower
// bound.
func (g *flightGroup[T]) noteCaller(key string) {
	g.mu.Lock()
	if g.inFlight == nil {
		g.inFlight = map[string]struct{}{}
	}
	_, joined := g.inFlight[key]
	g.inFlight[key] = struct{}{}
	g.mu.Unlock()

	if joined && g.onJoin != nil {
		g.onJoin()
	}
}

func (g *flightGroup[T]) forget(key string) {
	g.mu.Lock()
	delete(g.inFlight, key)
	g.mu.Unlock()
}

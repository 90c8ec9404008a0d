package cache

import (
	"context"

	"golang.org/x/sync/singleflight"
)

// flightGroup runs one function per key at a time and hands its result to
// every caller that asked meanwhile. The function runs on a context that a
// departing caller does not cancel, so a fetch that one client started
// still completes and is stored for the others.
type flightGroup[T any] struct {
	group singleflight.Group
}

func (g *flightGroup[T]) do(ctx context.Context, key string, fn func(ctx context.Context) (T, error)) (result T, shared bool, err error) {
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

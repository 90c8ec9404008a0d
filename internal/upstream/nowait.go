package upstream

import "context"

type holdFreeKey struct{}

// WithoutHoldWait marks ctx so that its requests do not wait out the
// upstream's abuse-limit hold: while a hold is in force they fail at once
// with KindAbuseLimit, and an abuse-limit 429 is not retried. Other
// retries are unchanged. The cache uses it to revalidate stored tags,
// because their stored copy can be served while the upstream rejects
// requests.
func WithoutHoldWait(ctx context.Context) context.Context {
	return context.WithValue(ctx, holdFreeKey{}, true)
}

// holdWaitAllowed reports whether requests made with ctx may wait out an
// abuse-limit hold.
func holdWaitAllowed(ctx context.Context) bool {
	noWait, _ := ctx.Value(holdFreeKey{}).(bool)
	return !noWait
}

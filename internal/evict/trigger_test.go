package evict

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunAfterCommitsAndRetryAfterSkip checks when the run loop measures a
// store that other processes share. It measures after this process
// committed a tenth of max size, even if its own commits leave the store
// under it. It measures again soon after a run that the gate skipped.
// Skipped runs reach Observe.
func TestRunAfterCommitsAndRetryAfterSkip(t *testing.T) {
	s := newStack(t, 0)
	e := s.evictor
	var open atomic.Bool
	e.gate = func(context.Context) (func(), bool) { return func() {}, open.Load() }
	results := make(chan Result, 16)
	e.observe = func(r Result) { results <- r }
	e.maxSize = 1 << 20
	e.skipRetry = 50 * time.Millisecond

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	next := func(what string) Result {
		t.Helper()
		select {
		case r := <-results:
			return r
		case <-time.After(10 * time.Second):
			t.Fatalf("no run within 10 s: want %s", what)
			return Result{}
		}
	}

	if r := next("the run at start"); !r.Skipped {
		t.Errorf("run at start with the gate closed: %+v, want skipped", r)
	}
	e.Stored("blobs/sha256/aa", 50<<10)
	if e.due() {
		t.Errorf("a run is due after commits of 5%% of max size")
	}
	e.Stored("blobs/sha256/bb", 60<<10)
	if !e.due() {
		t.Fatalf("no run due after commits of 11%% of max size, far under it")
	}
	if r := next("a run after commits of a tenth of max size"); !r.Skipped {
		t.Errorf("run with the gate closed: %+v, want skipped", r)
	}
	open.Store(true)
	for {
		r := next("a retry of the skipped run")
		if !r.Skipped {
			break
		}
	}
	if e.due() {
		t.Errorf("a run is still due after a run went ahead")
	}
}

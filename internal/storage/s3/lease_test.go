package s3

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/s3/s3test"
	"github.com/pullcache/pullcache/internal/testclock"
)

// replicaStores opens n stores on one bucket, as n replicas would, each
// with its own clock.
func replicaStores(t *testing.T, n int) ([]*Store, []*testclock.Clock) {
	t.Helper()
	gw := s3test.Start(t)
	bucket := gw.CreateBucket(t)
	s3test.IsolateSDK(t)
	var stores []*Store
	var clocks []*testclock.Clock
	for range n {
		clock := testclock.New(time.Now())
		store, err := New(context.Background(), Options{
			Bucket: bucket, Prefix: "cache", Region: s3test.Region, Endpoint: gw.Endpoint,
			PathStyle: true, Credentials: gw.Credentials(), Now: clock.Now,
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		stores = append(stores, store)
		clocks = append(clocks, clock)
	}
	return stores, clocks
}

const testLeaseTTL = time.Minute

func TestLeaseOneHolderAtATime(t *testing.T) {
	stores, _ := replicaStores(t, 2)
	ctx := context.Background()
	a, b := stores[0].Lease("gc", testLeaseTTL), stores[1].Lease("gc", testLeaseTTL)

	held, err := a.TryAcquire(ctx)
	if err != nil {
		t.Fatalf("A TryAcquire: %v", err)
	}
	if _, err := b.TryAcquire(ctx); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("B TryAcquire while A holds the lease: error = %v, want ErrLeaseHeld", err)
	}
	if _, ok := b.Gate(ctx); ok {
		t.Fatal("B's gate opened while A holds the lease")
	}
	if err := held.Renew(ctx); err != nil {
		t.Errorf("A Renew: %v", err)
	}

	if err := held.Release(ctx); err != nil {
		t.Fatalf("A Release: %v", err)
	}
	if held.Context().Err() == nil {
		t.Error("A's lease context still open after Release")
	}
	release, ok := b.Gate(ctx)
	if !ok {
		t.Fatal("B's gate stayed closed after A released the lease")
	}
	release()

	// The lease object is the store's own: Walk does not list it.
	var keys []string
	stores[0].Walk(ctx, "", func(key string, _ storage.Info) error {
		keys = append(keys, key)
		return nil
	})
	if len(keys) != 0 {
		t.Errorf("Walk lists %v, want nothing", keys)
	}
}

func TestLeaseExpiredIsTakenOver(t *testing.T) {
	stores, clocks := replicaStores(t, 2)
	ctx := context.Background()
	a, b := stores[0].Lease("gc", testLeaseTTL), stores[1].Lease("gc", testLeaseTTL)

	heldA, err := a.TryAcquire(ctx)
	if err != nil {
		t.Fatalf("A TryAcquire: %v", err)
	}
	defer heldA.Release(ctx)

	// A stops renewing (as if it hung); once a TTL has passed on B's
	// clock, B takes the lease over.
	clocks[1].Advance(testLeaseTTL - time.Second)
	if _, err := b.TryAcquire(ctx); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("B TryAcquire before expiry: error = %v, want ErrLeaseHeld", err)
	}
	clocks[1].Advance(2 * time.Second)
	heldB, err := b.TryAcquire(ctx)
	if err != nil {
		t.Fatalf("B TryAcquire after expiry: %v", err)
	}
	defer heldB.Release(ctx)

	// A learns at its next renewal that it lost the lease.
	if err := heldA.Renew(ctx); !errors.Is(err, ErrLeaseHeld) {
		t.Errorf("A Renew after the takeover: error = %v, want ErrLeaseHeld", err)
	}
	if heldA.Context().Err() == nil {
		t.Error("A's lease context still open after losing the lease")
	}
	if err := heldB.Renew(ctx); err != nil {
		t.Errorf("B Renew: %v", err)
	}
}

// TestLeaseRace has several replicas race for a free lease and then for an
// expired one: each time exactly one wins.
func TestLeaseRace(t *testing.T) {
	const replicas = 8
	stores, clocks := replicaStores(t, replicas)
	ctx := context.Background()

	race := func(round string) []*HeldLease {
		held := make([]*HeldLease, replicas)
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		for i := range replicas {
			wg.Go(func() {
				held[i], errs[i] = stores[i].Lease("gc", testLeaseTTL).TryAcquire(ctx)
			})
		}
		wg.Wait()
		var winners []*HeldLease
		for i := range replicas {
			if errs[i] == nil {
				winners = append(winners, held[i])
			} else if !errors.Is(errs[i], ErrLeaseHeld) {
				t.Errorf("%s: replica %d: %v", round, i, errs[i])
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%s: %d replicas got the lease, want 1", round, len(winners))
		}
		return winners
	}

	first := race("free lease")
	// The winner hangs without renewing; every clock moves past the TTL.
	first[0].once.Do(func() { close(first[0].stop) })
	for _, clock := range clocks {
		clock.Advance(2 * testLeaseTTL)
	}
	second := race("expired lease")
	second[0].Release(ctx)
}

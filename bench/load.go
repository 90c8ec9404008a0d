package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// maxRequestsPerLevel bounds every load loop in count as well as in time.
const maxRequestsPerLevel = 2_000_000

// LoadResult is one closed-loop load level: conc workers sending requests
// back to back for a fixed time.
type LoadResult struct {
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	Bytes       int64   `json:"bytes"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"perSecond"`
	MBPerSecond float64 `json:"mbPerSecond"` // MiB/s
	P50Ms       float64 `json:"p50Ms"`
	P99Ms       float64 `json:"p99Ms"`
}

// runLoad runs fn from conc goroutines until d has passed (each worker
// finishes the request it is in) or maxRequestsPerLevel were sent.
func runLoad(ctx context.Context, conc int, d time.Duration, fn func(context.Context) (int64, error)) LoadResult {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		bytes     int64
		errs      int
		count     int
		wg        sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range conc {
		wg.Go(func() {
			var local []time.Duration
			var localBytes int64
			localErrs := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				mu.Lock()
				if count >= maxRequestsPerLevel {
					mu.Unlock()
					break
				}
				count++
				mu.Unlock()

				t0 := time.Now()
				n, err := fn(ctx)
				local = append(local, time.Since(t0))
				localBytes += n
				if err != nil {
					localErrs++
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			bytes += localBytes
			errs += localErrs
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	return LoadResult{
		Concurrency: conc,
		Requests:    len(latencies),
		Errors:      errs,
		Bytes:       bytes,
		Seconds:     elapsed,
		PerSecond:   float64(len(latencies)-errs) / elapsed,
		MBPerSecond: float64(bytes) / (1 << 20) / elapsed,
		P50Ms:       percentileMs(latencies, 50),
		P99Ms:       percentileMs(latencies, 99),
	}
}

// percentileMs returns the p-th percentile of ds in milliseconds, by the
// nearest-rank method, or 0 for no samples.
func percentileMs(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return float64(sorted[rank].Microseconds()) / 1000
}

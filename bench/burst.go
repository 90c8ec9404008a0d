package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// BurstRow is the CI burst measured through one target.
type BurstRow struct {
	Target           string  `json:"target"`
	Builds           int     `json:"builds"`
	Concurrency      int     `json:"concurrency"`
	FailedBuilds     int     `json:"failedBuilds"`
	UpstreamGets     int     `json:"upstreamManifestGets"`
	PullsCharged     int     `json:"pullsCharged"`
	UpstreamHeads    int     `json:"upstreamManifestHeads"`
	UpstreamBlobGets int     `json:"upstreamBlobGets"`
	UpstreamBytes    int64   `json:"upstreamBytes"`
	WallSeconds      float64 `json:"wallSeconds"`
	ManifestP50Ms    float64 `json:"manifestP50Ms"`
	ManifestP99Ms    float64 `json:"manifestP99Ms"`
	// NewDigestAfterMove counts the builds started after the tag moved
	// that received the new digest, out of BuildsAfterMove.
	NewDigestAfterMove int `json:"newDigestAfterMove"`
	BuildsAfterMove    int `json:"buildsAfterMove"`
}

// burstImages are the five images every build pulls.
var burstImages = []struct{ repo, tag string }{
	{hubsim.MultiArchRepo, "latest"},    // OCI index, two platforms
	{hubsim.ManifestListRepo, "latest"}, // Docker manifest list, two platforms
	{hubsim.MovingRepo, "v1"},           // single-arch, moves halfway
	{hubsim.AlpineRepo, "3.20"},         // small single-arch
	{"library/builder", "1"},            // single-arch with a larger layer
}

// seedBurst stores the burst images and returns the standard seed.
func seedBurst(up *Upstream, builderLayer int64) (hubsim.Standard, error) {
	std := up.SeedStandard(hubsim.MinSyntheticLayerSize)
	if _, err := putImage(up.Hub, "library/builder", "1", randomBytes(builderLayer), "builder"); err != nil {
		return std, err
	}
	return std, nil
}

func runBurst(ctx context.Context, e *Env, res *Results) error {
	up, err := startUpstream()
	if err != nil {
		return err
	}
	defer up.Close()
	std, err := seedBurst(up, e.Sizes.BuilderLayer)
	if err != nil {
		return err
	}

	targets := e.compareTargets(ctx, up, "burst",
		e.pullcacheTarget(ctx, up, "pullcache (tag_ttl 5m)", "burst-pullcache-5m", "burst-pc5m-data", "5m"),
		e.pullcacheTarget(ctx, up, "pullcache (tag_ttl 0)", "burst-pullcache-0", "burst-pc0-data", "0s"),
	)
	return runTargets(targets, func(name string, srv *Server) error {
		row, err := burstOnce(ctx, e, up, std, srv)
		if err != nil {
			return err
		}
		row.Target = name
		res.Burst = append(res.Burst, row)
		e.Log.Info("burst", "target", name, "upstream_gets", row.UpstreamGets, "wall_s", row.WallSeconds)
		return nil
	})
}

// burstOnce runs the builds through srv: BurstConcurrency at a time, each
// pulling every burst image, and moves library/moving:v1 when half of the
// builds have finished.
func burstOnce(ctx context.Context, e *Env, up *Upstream, std hubsim.Standard, srv *Server) (BurstRow, error) {
	if err := up.MoveTag(hubsim.MovingRepo, "v1", std.Moving.Digest); err != nil {
		return BurstRow{}, err
	}
	up.ResetStats()
	bytesBefore := up.BytesSent()

	builds := e.Sizes.BurstBuilds
	client := newClient(srv.URL, e.Sizes.BurstConcurrency)
	defer client.Close()

	var (
		mu        sync.Mutex
		latencies []time.Duration
		failed    int
		firstErr  error
		moved     atomic.Bool
		afterMove int
		newSeen   int
		finished  atomic.Int64
		moveOnce  sync.Once
	)
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range e.Sizes.BurstConcurrency {
		wg.Go(func() {
			for range jobs {
				startedAfterMove := moved.Load()
				var movingDigest digest.Digest
				var buildErr error
				var lat []time.Duration
				for _, img := range burstImages {
					r, err := client.pull(ctx, img.repo, img.tag)
					lat = append(lat, r.ManifestLatency...)
					if err != nil {
						buildErr = err
						break
					}
					if img.repo == hubsim.MovingRepo {
						movingDigest = r.ManifestDigest
					}
				}

				mu.Lock()
				latencies = append(latencies, lat...)
				if buildErr != nil {
					failed++
					if firstErr == nil {
						firstErr = buildErr
					}
				}
				if startedAfterMove {
					afterMove++
					if movingDigest == std.MovingNext.Digest {
						newSeen++
					}
				}
				mu.Unlock()

				if finished.Add(1) == int64(builds/2) {
					moveOnce.Do(func() {
						up.MoveTag(hubsim.MovingRepo, "v1", std.MovingNext.Digest)
						moved.Store(true)
					})
				}
			}
		})
	}
	for i := range builds {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	wall := time.Since(start)

	if failed > 0 {
		fmt.Fprintf(os.Stderr, "burst through %s: %d builds failed, first: %v\n", srv.Name, failed, firstErr)
	}
	st := up.Stats()
	return BurstRow{
		Builds:             builds,
		Concurrency:        e.Sizes.BurstConcurrency,
		FailedBuilds:       failed,
		UpstreamGets:       st.ManifestGets,
		PullsCharged:       sumValues(st.Pulls),
		UpstreamHeads:      st.ManifestHeads,
		UpstreamBlobGets:   st.BlobGets,
		UpstreamBytes:      up.BytesSent() - bytesBefore,
		WallSeconds:        wall.Seconds(),
		ManifestP50Ms:      percentileMs(latencies, 50),
		ManifestP99Ms:      percentileMs(latencies, 99),
		NewDigestAfterMove: newSeen,
		BuildsAfterMove:    afterMove,
	}, nil
}

func sumValues(m map[string]int) int {
	total := 0
	for _, v := range m {
		total += v
	}
	return total
}

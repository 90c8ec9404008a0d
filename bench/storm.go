package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// StormRow is the share of pulls of stored images that succeeded while the
// upstream returned 429.
type StormRow struct {
	Target      string  `json:"target"`
	Fault       string  `json:"fault"`
	Pulls       int     `json:"pulls"`
	Succeeded   int     `json:"succeeded"`
	Share       float64 `json:"share"`
	WallSeconds float64 `json:"wallSeconds"`
	PullP50Ms   float64 `json:"pullP50Ms"`
	PullP99Ms   float64 `json:"pullP99Ms"`
	FirstErr    string  `json:"firstError,omitempty"`
}

// stormFaults are the two kinds of 429 Docker Hub sends: the pull limit on
// manifest GETs, and the abuse limit on any request.
var stormFaults = []struct {
	name  string
	fault hubsim.Fault
}{
	{"pull limit: 429 TOOMANYREQUESTS on every manifest GET", hubsim.Fault{Kind: hubsim.FaultQuota, Target: hubsim.TargetManifests, Method: "GET"}},
	{"abuse limit: 429 on every request, token included", hubsim.Fault{Kind: hubsim.FaultAbuse, Target: hubsim.TargetAll}},
}

func runStorm(ctx context.Context, e *Env, res *Results) error {
	up, err := startUpstream()
	if err != nil {
		return err
	}
	defer up.Close()
	if _, err := seedBurst(up, 64<<10); err != nil {
		return err
	}

	// tag_ttl 0 makes pullcache ask upstream on every tag request, as the
	// reference does. With a longer TTL, a storm shorter than the TTL would
	// not reach upstream at all.
	targets := e.compareTargets(ctx, up, "storm",
		e.pullcacheTarget(ctx, up, "pullcache (tag_ttl 0)", "storm-pullcache", "storm-pc-data", "0s"),
	)
	return runTargets(targets, func(name string, srv *Server) error {
		return stormTarget(ctx, e, up, srv, name, res)
	})
}

// stormTarget fills srv with every burst image while upstream is healthy,
// then pulls them again under each fault, from a fresh client each time so
// that no token is reused from before the storm.
func stormTarget(ctx context.Context, e *Env, up *Upstream, srv *Server, name string, res *Results) error {
	up.ClearFaults()
	fill := newClient(srv.URL, 1)
	for _, img := range burstImages {
		if _, err := fill.pull(ctx, img.repo, img.tag); err != nil {
			fill.Close()
			return fmt.Errorf("fill: %w", err)
		}
	}
	fill.Close()

	for _, sf := range stormFaults {
		up.ClearFaults()
		up.SetFault(sf.fault)
		client := newClient(srv.URL, 8)
		row := StormRow{Target: name, Fault: sf.name, Pulls: e.Sizes.StormPulls}

		var mu sync.Mutex
		var wg sync.WaitGroup
		var durations []time.Duration
		jobs := make(chan int)
		start := time.Now()
		for range 8 {
			wg.Go(func() {
				for i := range jobs {
					img := burstImages[i%len(burstImages)]
					t0 := time.Now()
					_, err := client.pull(ctx, img.repo, img.tag)
					mu.Lock()
					durations = append(durations, time.Since(t0))
					if err == nil {
						row.Succeeded++
					} else if row.FirstErr == "" {
						row.FirstErr = err.Error()
					}
					mu.Unlock()
				}
			})
		}
		for i := range row.Pulls {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		client.Close()

		row.WallSeconds = time.Since(start).Seconds()
		row.PullP50Ms, row.PullP99Ms = percentileMs(durations, 50), percentileMs(durations, 99)
		row.Share = float64(row.Succeeded) / float64(row.Pulls)
		res.Storm = append(res.Storm, row)
		e.Log.Info("storm", "target", name, "fault", sf.name, "share", row.Share)
	}
	up.ClearFaults()
	return nil
}

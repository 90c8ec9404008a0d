package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmokeWorkloads runs every workload at smoke sizes and checks that
// each completed with sane counts. It asserts no timing: speed targets are
// judged by the full run, on a quiet machine.
func TestSmokeWorkloads(t *testing.T) {
	if testing.Short() {
		t.Skip("the smoke run builds pullcache and starts servers")
	}
	registry := "/usr/bin/docker-registry"
	if _, err := os.Stat(registry); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docker-registry is required in CI: %v", err)
		}
		t.Logf("docker-registry not installed, running without the reference mirror: %v", err)
		registry = ""
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out := t.TempDir()
	res, err := Run(ctx, Options{
		OutDir:    out,
		Smoke:     true,
		Registry:  registry,
		Workloads: "burst,coalesce,warm,storm,growth",
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	sizes := sizesFor(true)

	for _, name := range []string{"results.json", "results.md", "warm-small-blobs.svg", "growth-latency.svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("output %s: %v", name, err)
		}
	}

	t.Run("burst", func(t *testing.T) { checkBurst(t, res, sizes) })
	t.Run("coalesce", func(t *testing.T) { checkCoalesce(t, res) })
	t.Run("warm", func(t *testing.T) { checkWarm(t, res, sizes, registry != "") })
	t.Run("storm", func(t *testing.T) { checkStorm(t, res) })
	t.Run("growth", func(t *testing.T) { checkGrowth(t, res, sizes, registry != "") })

	if len(res.Targets) != 5 {
		t.Fatalf("targets = %d, want 5", len(res.Targets))
	}
	for _, target := range res.Targets {
		if !target.Judged && (registry != "" || !strings.Contains(target.Goal, "reference")) {
			t.Errorf("target %q was not judged", target.Name)
		}
	}
}

func checkBurst(t *testing.T, res *Results, sizes Sizes) {
	rows := map[string]BurstRow{}
	for _, row := range res.Burst {
		rows[row.Target] = row
		if row.Builds != sizes.BurstBuilds || row.FailedBuilds != 0 {
			t.Errorf("%s: %d builds, %d failed; want %d, 0 failed", row.Target, row.Builds, row.FailedBuilds, sizes.BurstBuilds)
		}
		if row.BuildsAfterMove == 0 {
			t.Errorf("%s: no build started after the tag moved", row.Target)
		}
	}
	direct, ok := rows["upstream directly"]
	if !ok {
		t.Fatal("no row for the upstream")
	}
	for _, name := range []string{"pullcache (tag_ttl 5m)", "pullcache (tag_ttl 0)"} {
		row := rows[name]
		if row.PullsCharged == 0 || row.PullsCharged >= direct.PullsCharged {
			t.Errorf("%s: %d pulls charged, want between 1 and the upstream's %d", name, row.PullsCharged, direct.PullsCharged)
		}
	}
	if row := rows["pullcache (tag_ttl 5m)"]; row.UpstreamHeads != 0 {
		t.Errorf("pullcache (tag_ttl 5m): %d upstream HEADs, want 0 within the TTL", row.UpstreamHeads)
	}
	if row := rows["pullcache (tag_ttl 0)"]; row.NewDigestAfterMove != row.BuildsAfterMove {
		t.Errorf("pullcache (tag_ttl 0): %d of %d builds after the move got the new digest", row.NewDigestAfterMove, row.BuildsAfterMove)
	}
}

func checkCoalesce(t *testing.T, res *Results) {
	if len(res.Coalesce) == 0 {
		t.Fatal("no rows")
	}
	for _, row := range res.Coalesce {
		if row.Succeeded != row.Clients {
			t.Errorf("%s: %d of %d clients got the blob", row.Target, row.Succeeded, row.Clients)
		}
		if row.Target == "pullcache" && row.UpstreamGets != 1 {
			t.Errorf("pullcache: %d upstream blob GETs, want 1", row.UpstreamGets)
		}
		if row.Target == "upstream directly" && row.UpstreamGets != row.Clients {
			t.Errorf("upstream: %d blob GETs, want one per client (%d)", row.UpstreamGets, row.Clients)
		}
	}
}

func checkWarm(t *testing.T, res *Results, sizes Sizes, reference bool) {
	if res.Warm == nil {
		t.Fatal("no results")
	}
	want := 2
	if reference {
		want = 3
	}
	if len(res.Warm.Targets) != want {
		t.Fatalf("%d targets, want %d", len(res.Warm.Targets), want)
	}
	for _, wt := range res.Warm.Targets {
		if wt.Manifests.Requests == 0 || wt.Manifests.Errors != 0 {
			t.Errorf("%s manifests: %d requests, %d errors", wt.Target, wt.Manifests.Requests, wt.Manifests.Errors)
		}
		if len(wt.Small) != len(sizes.SmallLevels) || len(wt.Large) != len(sizes.LargeLevels) {
			t.Errorf("%s: %d small and %d large levels", wt.Target, len(wt.Small), len(wt.Large))
		}
		for _, l := range append(wt.Small, wt.Large...) {
			if l.Requests == 0 || l.Errors != 0 {
				t.Errorf("%s at concurrency %d: %d requests, %d errors", wt.Target, l.Concurrency, l.Requests, l.Errors)
			}
		}
		if wt.PeakRSSLarge8 <= 0 {
			t.Errorf("%s: no peak RSS measured", wt.Target)
		}
	}
}

func checkStorm(t *testing.T, res *Results) {
	if len(res.Storm) == 0 {
		t.Fatal("no rows")
	}
	for _, row := range res.Storm {
		switch {
		case strings.HasPrefix(row.Target, "pullcache") && row.Succeeded != row.Pulls:
			t.Errorf("%s, %s: %d of %d pulls succeeded; first error: %s", row.Target, row.Fault, row.Succeeded, row.Pulls, row.FirstErr)
		case row.Target == "upstream directly" && row.Succeeded != 0:
			t.Errorf("upstream, %s: %d pulls succeeded during the storm, want 0", row.Fault, row.Succeeded)
		}
	}
}

func checkGrowth(t *testing.T, res *Results, sizes Sizes, reference bool) {
	want := len(sizes.GrowthCounts)
	if reference {
		want++
	}
	if len(res.Growth) != want {
		t.Fatalf("%d rows, want %d", len(res.Growth), want)
	}
	for _, row := range res.Growth {
		if row.Requests != sizes.GrowthRequests || row.Errors != 0 {
			t.Errorf("%s with %d stored: %d reads, %d errors", row.Target, row.Stored, row.Requests, row.Errors)
		}
		if row.Target == "pullcache" && (row.SteadyRequests != sizes.GrowthRequests || row.SteadyErrors != 0) {
			t.Errorf("pullcache with %d stored, after the inventory: %d reads, %d errors", row.Stored, row.SteadyRequests, row.SteadyErrors)
		}
		if row.StartupSeconds <= 0 || row.PeakRSSBytes <= 0 {
			t.Errorf("%s with %d stored: start-up %.3fs, peak RSS %d", row.Target, row.Stored, row.StartupSeconds, row.PeakRSSBytes)
		}
	}
}

// testWriter sends the harness's log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

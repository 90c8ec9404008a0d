package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// GrowthRow is manifest serving with Stored manifests in the store.
type GrowthRow struct {
	Target         string  `json:"target"`
	Stored         int     `json:"storedManifests"`
	FillSeconds    float64 `json:"fillSeconds"`
	StartupSeconds float64 `json:"startupSeconds"`
	Requests       int     `json:"requests"`
	Errors         int     `json:"errors"`
	P50Ms          float64 `json:"p50Ms"`
	P99Ms          float64 `json:"p99Ms"`
	// Steady* are a second pass of reads, after the first has brought
	// the server's files into the page cache.
	SteadyRequests int     `json:"steadyRequests,omitempty"`
	SteadyErrors   int     `json:"steadyErrors,omitempty"`
	SteadyP50Ms    float64 `json:"steadyP50Ms,omitempty"`
	SteadyP99Ms    float64 `json:"steadyP99Ms,omitempty"`
	PeakRSSBytes   int64   `json:"peakRSSBytes"`
	RSSBytes       int64   `json:"rssBytes"`
}

// growthRepos spreads the growth manifests over this many repositories,
// as a mirror holds many repositories with a few tags each.
const growthRepos = 100

func growthRef(i int) (repo, tag string) {
	return fmt.Sprintf("library/growth-%02d", i%growthRepos), "t" + strconv.Itoa(i)
}

// growthManifest returns a small OCI image manifest that differs from the
// others by an annotation.
func growthManifest(i int) []byte {
	config := v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Size: 2, Digest: digest.FromString("{}")}
	layer := v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Size: 32, Digest: digest.FromString("layer")}
	body, _ := json.Marshal(v1.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   v1.MediaTypeImageManifest,
		Config:      config,
		Layers:      []v1.Descriptor{layer},
		Annotations: map[string]string{"org.example.bench.index": strconv.Itoa(i)},
	})
	return body
}

func runGrowth(ctx context.Context, e *Env, res *Results) error {
	up, err := startUpstream()
	if err != nil {
		return err
	}
	defer up.Close()
	for i := range e.Sizes.ReferenceGrowth {
		repo, tag := growthRef(i)
		up.PutManifest(repo, tag, v1.MediaTypeImageManifest, growthManifest(i))
	}

	for _, n := range e.Sizes.GrowthCounts {
		row, err := growthPullcache(ctx, e, up, n)
		if err != nil {
			return fmt.Errorf("pullcache with %d manifests: %w", n, err)
		}
		res.Growth = append(res.Growth, row)
		e.Log.Info("growth", "target", row.Target, "stored", n, "p99_ms", row.P99Ms, "startup_s", row.StartupSeconds)
	}
	if e.Registry != "" {
		row, err := growthRegistry(ctx, e, up, e.Sizes.ReferenceGrowth)
		if err != nil {
			return fmt.Errorf("docker-registry with %d manifests: %w", e.Sizes.ReferenceGrowth, err)
		}
		res.Growth = append(res.Growth, row)
		e.Log.Info("growth", "target", row.Target, "stored", row.Stored, "p99_ms", row.P99Ms)
	}
	return nil
}

// growthPullcache writes n manifests with fresh tags into a new store in
// pullcache's layout, starts pullcache on it and reads random tags. The
// files are written directly, without the store's fsync per object, so that
// filling 100k manifests does not wait for 300k fsyncs.
func growthPullcache(ctx context.Context, e *Env, up *Upstream, n int) (GrowthRow, error) {
	data := filepath.Join(e.Scratch, fmt.Sprintf("growth-pc-%d", n))
	start := time.Now()
	if err := writePullcacheManifests(data, n); err != nil {
		return GrowthRow{}, err
	}
	// Written-back files leave the reads below to measure the server,
	// not the disk catching up.
	syscall.Sync()
	fill := time.Since(start)

	srv, err := e.startPullcache(ctx, fmt.Sprintf("growth-pullcache-%d", n), data, up.URL, "1h")
	if err != nil {
		return GrowthRow{}, err
	}
	defer srv.Stop()
	row := measureGrowth(ctx, e, srv, n)
	row.Target = "pullcache"
	row.FillSeconds = fill.Seconds()

	steady := measureGrowth(ctx, e, srv, n)
	row.SteadyRequests, row.SteadyErrors = steady.Requests, steady.Errors
	row.SteadyP50Ms, row.SteadyP99Ms = steady.P50Ms, steady.P99Ms
	row.PeakRSSBytes, row.RSSBytes = steady.PeakRSSBytes, steady.RSSBytes
	os.RemoveAll(data)
	return row, nil
}

func writePullcacheManifests(root string, n int) error {
	now := time.Now().UTC()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				if err := writeGrowthRecords(root, i, now); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// writeGrowthRecords writes the manifest record, the tag record and the
// repository's digest link of manifest i, as pullcache stores them after a
// pull.
func writeGrowthRecords(root string, i int, checkedAt time.Time) error {
	body := growthManifest(i)
	d := digest.FromBytes(body)
	repo, tag := growthRef(i)

	manifest, err := json.Marshal(map[string]any{"mediaType": v1.MediaTypeImageManifest, "digest": d, "body": body})
	if err != nil {
		return err
	}
	tagRecord, err := json.Marshal(map[string]any{"digest": d, "mediaType": v1.MediaTypeImageManifest, "size": len(body), "checkedAt": checkedAt})
	if err != nil {
		return err
	}
	repoDir := filepath.Join(root, "repositories", "docker.io", filepath.FromSlash(repo))
	files := []struct {
		path string
		data []byte
	}{
		{filepath.Join(root, "manifests", "sha256", d.Encoded()), manifest},
		{filepath.Join(repoDir, "_tags", tag), tagRecord},
		{filepath.Join(repoDir, "_digests", "sha256-"+d.Encoded()), nil},
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// growthRegistry fills the reference mirror by pulling n tags through it,
// restarts it to measure start-up with them stored, and reads random tags.
func growthRegistry(ctx context.Context, e *Env, up *Upstream, n int) (GrowthRow, error) {
	data := filepath.Join(e.Scratch, "growth-reg")
	srv, err := e.startRegistry(ctx, "growth-registry", data, up.URL)
	if err != nil {
		return GrowthRow{}, err
	}
	client := newClient(srv.URL, 8)
	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var fillErr error
	for range 8 {
		wg.Go(func() {
			for i := range next {
				repo, tag := growthRef(i)
				if _, err := fetchManifest(ctx, client, repo, tag); err != nil {
					mu.Lock()
					fillErr = err
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	client.Close()
	srv.Stop()
	syscall.Sync()
	fill := time.Since(start)
	if fillErr != nil {
		return GrowthRow{}, fmt.Errorf("fill: %w", fillErr)
	}

	srv, err = e.startRegistry(ctx, "growth-registry", data, up.URL)
	if err != nil {
		return GrowthRow{}, err
	}
	defer srv.Stop()
	row := measureGrowth(ctx, e, srv, n)
	row.Target = "docker-registry proxy"
	row.FillSeconds = fill.Seconds()
	return row, nil
}

// measureGrowth reads GrowthRequests random tags of the n stored, 8 at a
// time.
func measureGrowth(ctx context.Context, e *Env, srv *Server, n int) GrowthRow {
	client := newClient(srv.URL, 8)
	defer client.Close()

	var mu sync.Mutex
	var latencies []time.Duration
	errs := 0
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				repo, tag := growthRef(i)
				t0 := time.Now()
				_, err := fetchManifest(ctx, client, repo, tag)
				lat := time.Since(t0)
				mu.Lock()
				latencies = append(latencies, lat)
				if err != nil {
					errs++
				}
				mu.Unlock()
			}
		})
	}
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	for range e.Sizes.GrowthRequests {
		next <- rng.IntN(n)
	}
	close(next)
	wg.Wait()

	return GrowthRow{
		Stored:         n,
		StartupSeconds: srv.Startup.Seconds(),
		Requests:       len(latencies),
		Errors:         errs,
		P50Ms:          percentileMs(latencies, 50),
		P99Ms:          percentileMs(latencies, 99),
		PeakRSSBytes:   srv.PeakMemory(),
		RSSBytes:       srv.Memory(),
	}
}

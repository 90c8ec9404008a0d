package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// WarmTarget is warm serving measured on one server.
type WarmTarget struct {
	Target    string       `json:"target"`
	Manifests LoadResult   `json:"manifestsByTag"`
	Small     []LoadResult `json:"smallBlobs"`
	Large     []LoadResult `json:"largeBlobs"`
	// PeakRSSLarge8 is the server's peak RSS while serving 8 concurrent
	// large-blob downloads (the concurrency-8 large level).
	PeakRSSLarge8 int64 `json:"peakRSSLarge8Bytes"`
}

// Warm is the warm-serving workload's results.
type Warm struct {
	SmallBlobBytes int64        `json:"smallBlobBytes"`
	LargeBlobBytes int64        `json:"largeBlobBytes"`
	Targets        []WarmTarget `json:"targets"`
}

const warmRepo = "library/warm"

func runWarm(ctx context.Context, e *Env, res *Results) error {
	up, err := startUpstream()
	if err != nil {
		return err
	}
	defer up.Close()

	small := randomBytes(e.Sizes.SmallBlob)
	large := randomBytes(e.Sizes.LargeBlob)
	if _, err := putImage(up.Hub, warmRepo, "small", small, "small"); err != nil {
		return err
	}
	if _, err := putImage(up.Hub, warmRepo, "large", large, "large"); err != nil {
		return err
	}
	smallDigest, largeDigest := digest.FromBytes(small), digest.FromBytes(large)

	pcData := filepath.Join(e.Scratch, "warm-pc-data")
	pc, err := e.startPullcache(ctx, "warm-pullcache", pcData, up.URL, "5m")
	if err != nil {
		return err
	}
	defer pc.Stop()
	servers := []*Server{pc}
	if e.Registry != "" {
		reg, err := e.startRegistry(ctx, "warm-registry", filepath.Join(e.Scratch, "warm-reg-data"), up.URL)
		if err != nil {
			return err
		}
		defer reg.Stop()
		servers = append(servers, reg)
	}

	var manifestBody []byte
	for _, srv := range servers {
		c := newClient(srv.URL, 1)
		for _, tag := range []string{"small", "large"} {
			if _, err := c.pull(ctx, warmRepo, tag); err != nil {
				c.Close()
				return fmt.Errorf("fill %s: %w", srv.Name, err)
			}
		}
		manifestBody, _, err = c.getManifest(ctx, warmRepo, "small")
		c.Close()
		if err != nil {
			return err
		}
	}

	staticRoot := filepath.Join(e.Scratch, "warm-static")
	if err := buildStaticTree(staticRoot, pcData, manifestBody, smallDigest, largeDigest); err != nil {
		return err
	}
	static, err := e.startStatic(ctx, "warm-static", staticRoot)
	if err != nil {
		return err
	}
	defer static.Stop()
	servers = append(servers, static)

	res.Warm = &Warm{SmallBlobBytes: e.Sizes.SmallBlob, LargeBlobBytes: e.Sizes.LargeBlob}
	names := map[*Server]string{pc: "pullcache", static: "static file server"}
	targets := measureWarm(ctx, e, servers, smallDigest, largeDigest)
	for i, srv := range servers {
		name := names[srv]
		if name == "" {
			name = "docker-registry proxy"
		}
		targets[i].Target = name
		e.Log.Info("warm", "target", name, "manifests_per_s", targets[i].Manifests.PerSecond)
	}
	res.Warm.Targets = targets
	return nil
}

// buildStaticTree lays out the files the static server serves: hard links
// to pullcache's stored blob files, so both serve the same bytes from the
// same disk, and the manifest body under the tag's path.
func buildStaticTree(root, pcData string, manifest []byte, blobs ...digest.Digest) error {
	blobDir := filepath.Join(root, "v2", warmRepo, "blobs")
	manifestDir := filepath.Join(root, "v2", warmRepo, "manifests")
	for _, dir := range []string{blobDir, manifestDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	for _, d := range blobs {
		stored := filepath.Join(pcData, "blobs", d.Algorithm().String(), d.Encoded())
		if err := os.Link(stored, filepath.Join(blobDir, d.String())); err != nil {
			return fmt.Errorf("link stored blob for the static server: %w", err)
		}
	}
	return os.WriteFile(filepath.Join(manifestDir, "small"), manifest, 0o644)
}

// measureWarm runs each load level against every server in turn before
// the next level, so that a change in the machine's load during the run
// falls on all servers alike instead of on whichever was measured last.
func measureWarm(ctx context.Context, e *Env, servers []*Server, small, large digest.Digest) []WarmTarget {
	targets := make([]WarmTarget, len(servers))
	maxConc := max(e.Sizes.ManifestConc, e.Sizes.SmallLevels[len(e.Sizes.SmallLevels)-1])
	clients := make([]*Client, len(servers))
	for i, srv := range servers {
		clients[i] = newClient(srv.URL, maxConc)
		defer clients[i].Close()
	}

	for i := range servers {
		client := clients[i]
		targets[i].Manifests = runLoad(ctx, e.Sizes.ManifestConc, e.Sizes.LevelDuration, func(ctx context.Context) (int64, error) {
			return fetchManifest(ctx, client, warmRepo, "small")
		})
	}
	for _, conc := range e.Sizes.SmallLevels {
		for i := range servers {
			client := clients[i]
			targets[i].Small = append(targets[i].Small, runLoad(ctx, conc, e.Sizes.LevelDuration, func(ctx context.Context) (int64, error) {
				return client.getBlob(ctx, warmRepo, small, false)
			}))
		}
	}
	for _, conc := range e.Sizes.LargeLevels {
		for i, srv := range servers {
			client := clients[i]
			srv.ResetPeakMemory()
			targets[i].Large = append(targets[i].Large, runLoad(ctx, conc, e.Sizes.LevelDuration, func(ctx context.Context) (int64, error) {
				return client.getBlob(ctx, warmRepo, large, false)
			}))
			if conc == 8 || conc == e.Sizes.LargeLevels[len(e.Sizes.LargeLevels)-1] {
				targets[i].PeakRSSLarge8 = srv.PeakMemory()
			}
		}
	}
	return targets
}

// fetchManifest GETs a manifest by tag and reads its body.
func fetchManifest(ctx context.Context, c *Client, repo, tag string) (int64, error) {
	resp, err := c.get(ctx, http.MethodGet, repo, "manifests", tag)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, err
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("manifest %s:%s: status %d", repo, tag, resp.StatusCode)
	}
	return n, nil
}

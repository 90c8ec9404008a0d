package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// lruImage is an image seeded for the eviction test: one random layer.
type lruImage struct {
	tag      string
	manifest digest.Digest
	config   digest.Digest
	layer    digest.Digest
}

// seedLRUImage stores library/lru:<tag> in the hub with a layer of size
// random bytes. The mirror checks digests and sizes only, so the layer
// need not be a tar.
func seedLRUImage(t *testing.T, hub *testHub, tag string, size int, seed uint64) lruImage {
	t.Helper()
	layer := make([]byte, size)
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range layer {
		layer[i] = byte(rng.Uint32())
	}
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"tag":%q}`, tag))
	img := lruImage{tag: tag, config: hub.PutBlob(config), layer: hub.PutBlob(layer)}

	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.docker.distribution.manifest.v2+json",
		"config":        map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "digest": img.config, "size": len(config)},
		"layers":        []map[string]any{{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": img.layer, "size": size}},
	})
	if err != nil {
		t.Fatal(err)
	}
	img.manifest = hub.PutManifest("library/lru", tag, "application/vnd.docker.distribution.manifest.v2+json", manifest)
	return img
}

func TestMaxSizeEvictsLeastRecentlyUsedImage(t *testing.T) {
	t.Parallel()
	hub := startHub(t, hubOptions{})
	const layerSize = 150 << 10
	a := seedLRUImage(t, hub, "a", layerSize, 1)
	b := seedLRUImage(t, hub, "b", layerSize, 2)
	c := seedLRUImage(t, hub, "c", layerSize, 3)
	// Room for two images, not three.
	m := startMirror(t, hub, mirrorConfig{cache: "  max_size: 400KiB\n  gc_grace: 0s\n"})

	pullOverHTTP(t, m.url(), "library/lru", "a")
	pullOverHTTP(t, m.url(), "library/lru", "b")
	waitForFile(t, m.blobPath(b.layer.Encoded()), true)
	for i, status := range pullOverHTTP(t, m.url(), "library/lru", "a") {
		if status != "HIT" {
			t.Errorf("second pull of a, request %d: X-Cache-Status %s, want HIT", i, status)
		}
	}
	pullOverHTTP(t, m.url(), "library/lru", "c")

	// b is now the least recently used image: it goes, a and c stay.
	waitForFile(t, m.blobPath(b.layer.Encoded()), false)
	tagDir := filepath.Join(m.dataDir, "repositories", "docker.io", "library", "lru")
	for _, evictedPath := range []string{
		m.blobPath(b.config.Encoded()),
		filepath.Join(m.dataDir, "manifests", "sha256", b.manifest.Encoded()),
		filepath.Join(tagDir, "_tags", "b"),
		filepath.Join(tagDir, "_digests", "sha256-"+b.manifest.Encoded()),
	} {
		if _, err := os.Stat(evictedPath); !os.IsNotExist(err) {
			t.Errorf("%s of the evicted image b is still stored (%v)", strings.TrimPrefix(evictedPath, m.dataDir), err)
		}
	}
	for _, img := range []lruImage{a, c} {
		for _, keptPath := range []string{
			m.blobPath(img.layer.Encoded()),
			m.blobPath(img.config.Encoded()),
			filepath.Join(m.dataDir, "manifests", "sha256", img.manifest.Encoded()),
			filepath.Join(tagDir, "_tags", img.tag),
		} {
			if _, err := os.Stat(keptPath); err != nil {
				t.Errorf("%s of the recently used image %s was removed: %v", strings.TrimPrefix(keptPath, m.dataDir), img.tag, err)
			}
		}
	}

	for i, status := range pullOverHTTP(t, m.url(), "library/lru", "b") {
		if status != "MISS" {
			t.Errorf("pull of the evicted image b, request %d: X-Cache-Status %s, want MISS", i, status)
		}
	}
	output, err := os.ReadFile(filepath.Join(m.logDir, "pullcache-1.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(output), "evicted least recently used content") {
		t.Errorf("the log does not report the eviction")
	}
}

// waitForFile waits up to 10 s for path to exist (or to be gone).
func waitForFile(t *testing.T, path string, exists bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, err := os.Stat(path)
		if (err == nil) == exists {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: exists is not %v after 10 s", path, exists)
}

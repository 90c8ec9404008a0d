package evict

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/server"
	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/fs"
	"github.com/pullcache/pullcache/internal/upstream"
)

// acceptAll is the Accept header of a client that takes every manifest type.
const acceptAll = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"

// stack is a hubsim, a filesystem store, a cache with an evictor and the
// registry API in front of them, wired as the serve command does.
type stack struct {
	hub     *hubsim.Hub
	std     hubsim.Standard
	store   *fs.FS
	cache   *cache.Cache
	evictor *Evictor
	url     string
}

func newStack(t *testing.T, grace time.Duration) *stack {
	t.Helper()
	hub, std := startHubsim(t)
	store, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	c, evictor, url := serveStore(t, hub, store, filepath.Join(store.Root(), ".tmp"), grace, nil)
	return &stack{hub: hub, std: std, store: store, cache: c, evictor: evictor, url: url}
}

func startHubsim(t *testing.T) (*hubsim.Hub, hubsim.Standard) {
	t.Helper()
	hub := hubsim.New(hubsim.Options{})
	if err := hub.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start hubsim: %v", err)
	}
	t.Cleanup(hub.Close)
	return hub, hub.SeedStandard(0)
}

// serveStore wires a cache and an evictor over store as the serve command
// does and serves the registry API in front of them, with gate as the
// evictor's gate. It returns the cache, the evictor and the server's URL.
func serveStore(t *testing.T, hub *hubsim.Hub, store storage.Store, spoolDir string, grace time.Duration, gate Gate) (*cache.Cache, *Evictor, string) {
	t.Helper()
	evictor, err := New(Options{Store: store, Grace: grace, Gate: gate})
	if err != nil {
		t.Fatalf("new evictor: %v", err)
	}
	// Runs stop right at max size, so that a test can name the objects that
	// must go.
	evictor.lowWater = 100
	client, err := upstream.New(upstream.Options{Name: "docker.io", URL: hub.URL(), ConnectTimeout: 5 * time.Second, IdleReadTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("new upstream client: %v", err)
	}
	c, err := cache.New(cache.Options{
		Store:    store,
		SpoolDir: spoolDir,
		Remotes:  map[string]cache.Remote{"docker.io": {Client: client, TagTTL: time.Hour}},
		Access:   evictor,
	})
	if err != nil {
		t.Fatalf("new cache: %v", err)
	}
	srv := httptest.NewServer(server.New(server.Options{Cache: c, Upstreams: []server.Upstream{{Name: "docker.io", Default: true, DockerHub: true}}}))
	t.Cleanup(srv.Close)
	return c, evictor, srv.URL
}

// get fetches a path from the mirror and returns the status, the
// X-Cache-Status and the body.
func (s *stack) get(t *testing.T, path string) (int, string, []byte) {
	t.Helper()
	return getMirror(t, s.url, path)
}

// getMirror fetches a path from the mirror at baseURL, accepting every
// manifest type, and returns the status, the X-Cache-Status and the body.
func getMirror(t *testing.T, baseURL, path string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, baseURL+path, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Accept", acceptAll)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header.Get("X-Cache-Status"), body
}

// pull GETs an image's manifest by tag, its config and its layers, as a
// client pulling it does, and returns the X-Cache-Status of each, in order.
func (s *stack) pull(t *testing.T, img hubsim.Image) []string {
	t.Helper()
	var statuses []string
	status, cacheStatus, _ := s.get(t, "/v2/"+img.Repo+"/manifests/"+img.Tag)
	if status != http.StatusOK {
		t.Fatalf("GET manifest %s:%s: status %d", img.Repo, img.Tag, status)
	}
	statuses = append(statuses, cacheStatus)
	for _, d := range append([]digest.Digest{img.Config.Digest}, layerDigests(img)...) {
		status, cacheStatus, _ := s.get(t, "/v2/"+img.Repo+"/blobs/"+d.String())
		if status != http.StatusOK {
			t.Fatalf("GET blob %s of %s: status %d", d, img.Repo, status)
		}
		statuses = append(statuses, cacheStatus)
	}
	s.waitForWrites(t)
	return statuses
}

func layerDigests(img hubsim.Image) []digest.Digest {
	var out []digest.Digest
	for _, l := range img.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// imageKeys returns the store keys of an image's manifest, config and layers.
func imageKeys(img hubsim.Image) []string {
	keys := []string{cache.ManifestKey(img.Digest), cache.BlobKey(img.Config.Digest)}
	for _, d := range layerDigests(img) {
		keys = append(keys, cache.BlobKey(d))
	}
	return keys
}

// waitForWrites waits until blob fetches, which finish after the client
// received the last byte, committed.
func (s *stack) waitForWrites(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		busy := false
		err := filepath.WalkDir(filepath.Join(s.store.Root(), ".tmp"), func(path string, d iofs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				busy = true
			}
			return nil
		})
		if err == nil && !busy {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("store writes still in progress after 10s")
}

// has reports whether key is stored.
func (s *stack) has(t *testing.T, key string) bool {
	t.Helper()
	return storeHas(t, s.store, key)
}

// storeHas reports whether key is in store.
func storeHas(t *testing.T, store storage.Store, key string) bool {
	t.Helper()
	_, err := store.Stat(context.Background(), key)
	if errors.Is(err, storage.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("stat %s: %v", key, err)
	}
	return true
}

// keysUnder lists the stored keys under prefix.
func (s *stack) keysUnder(t *testing.T, prefix string) []string {
	t.Helper()
	var keys []string
	err := s.store.Walk(context.Background(), prefix, func(key string, _ storage.Info) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", prefix, err)
	}
	return keys
}

// size returns the store's total size as eviction measures it.
func (s *stack) size(t *testing.T) int64 {
	t.Helper()
	var total int64
	err := s.store.Walk(context.Background(), "", func(_ string, info storage.Info) error {
		total += info.Size
		return nil
	})
	if err != nil {
		t.Fatalf("walk store: %v", err)
	}
	return total
}

// sizeOf returns the total size of the stored keys given.
func (s *stack) sizeOf(t *testing.T, keys ...string) int64 {
	t.Helper()
	var total int64
	for _, key := range keys {
		info, err := s.store.Stat(context.Background(), key)
		if err != nil {
			t.Fatalf("stat %s: %v", key, err)
		}
		total += info.Size
	}
	return total
}

func describe(keys []string) string { return fmt.Sprintf("[%s]", strings.Join(keys, " ")) }

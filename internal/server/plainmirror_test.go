package server_test

import (
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/server"
	"github.com/pullcache/pullcache/internal/storage/fs"
	"github.com/pullcache/pullcache/internal/upstream"
)

// startPlainMirror starts a hubsim with the standard images and serves the
// registry API over a cache of it, docker.io as the default upstream, on a
// filesystem store. tuneCache and tuneServer, when not nil, set the options
// a test is about before the cache and the server are built.
func startPlainMirror(t *testing.T, tuneCache func(*cache.Options), tuneServer func(*server.Options)) (*hubsim.Hub, hubsim.Standard, *httptest.Server) {
	t.Helper()
	hub := hubsim.New(hubsim.Options{})
	if err := hub.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start hubsim: %v", err)
	}
	t.Cleanup(hub.Close)
	std := hub.SeedStandard(0)

	root := t.TempDir()
	store, err := fs.New(root, nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	client, err := upstream.New(upstream.Options{Name: "docker.io", URL: hub.URL(), ConnectTimeout: 5 * time.Second, IdleReadTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("create upstream client: %v", err)
	}
	cacheOpts := cache.Options{
		Store:    store,
		SpoolDir: filepath.Join(root, ".tmp"),
		Remotes:  map[string]cache.Remote{"docker.io": {Client: client, TagTTL: time.Minute}},
	}
	if tuneCache != nil {
		tuneCache(&cacheOpts)
	}
	c, err := cache.New(cacheOpts)
	if err != nil {
		t.Fatalf("create cache: %v", err)
	}

	serverOpts := server.Options{Cache: c, Upstreams: []server.Upstream{{Name: "docker.io", Default: true, DockerHub: true}}}
	if tuneServer != nil {
		tuneServer(&serverOpts)
	}
	srv := httptest.NewServer(server.New(serverOpts))
	t.Cleanup(srv.Close)
	return hub, std, srv
}

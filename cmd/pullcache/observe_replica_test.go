package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/admin"
	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/fs"
)

// historyKeysAfterMount mounts the observability of cfg on store, stops
// it and returns the keys under status/ that it saved.
func historyKeysAfterMount(t *testing.T, cfg config.Config, store storage.Store) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	o := newObservability(cfg)
	done := o.mount(ctx, admin.New(func(context.Context) error { return nil }), store, cfg)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("status history not saved within 10 s of shutdown")
	}

	var keys []string
	err := store.Walk(context.Background(), "status/", func(key string, _ storage.Info) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		t.Fatalf("walk status/: %v", err)
	}
	return keys
}

func TestS3StoreKeepsHistoryPerHost(t *testing.T) {
	hostname, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name: %v", err)
	}
	store, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The store is a local stand-in. Only the configuration selects S3,
	// and that setting is what makes the history per replica.
	cfg := config.Default()
	cfg.Storage = config.Storage{S3: &config.S3{Bucket: "pullcache-test"}}

	keys := historyKeysAfterMount(t, cfg, store)
	want := "status/replicas/" + hostname + "/history.json"
	if len(keys) != 1 || keys[0] != want {
		t.Errorf("saved status keys %q, want [%s]", keys, want)
	}
}

func TestFilesystemStoreKeepsOneHistory(t *testing.T) {
	store, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := historyKeysAfterMount(t, config.Default(), store)
	if len(keys) != 1 || keys[0] != "status/history.json" {
		t.Errorf("saved status keys %q, want [status/history.json]", keys)
	}
}

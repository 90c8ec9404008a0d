package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/fs"
	"github.com/pullcache/pullcache/internal/storage/s3"
)

// The lease that eviction and gc take on S3, so that one process at a time
// runs them. A holder that crashes blocks them for at most one TTL; a
// running holder renews the lease every third of it.
const (
	maintenanceLease    = "maintenance"
	maintenanceLeaseTTL = 2 * time.Minute
)

// openedStore is the configured store with what serve needs around it.
type openedStore struct {
	store storage.Store
	// spoolDir is a local directory for the temporary files of blobs in
	// transfer.
	spoolDir string
	// location names the store in the start-up log.
	location string
	// blobRedirect returns a presigned URL of a stored blob; nil unless
	// storage.s3.redirect is on.
	blobRedirect func(ctx context.Context, d digest.Digest) (string, error)
	// maintenanceGate reports whether this process may run eviction or gc
	// now, and returns the release to call when the run ends.
	maintenanceGate func(ctx context.Context) (release func(), ok bool)
	// close releases the filesystem store's lock or removes the spool
	// directory.
	close func()
}

// openStore opens the filesystem store, holding its lock, or the S3 store,
// which needs no lock because replicas share it.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*openedStore, error) {
	if cfg.Storage.S3 != nil {
		return openS3Store(ctx, *cfg.Storage.S3, log)
	}

	store, err := fs.New(cfg.Storage.Filesystem.Root, log)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	unlock, err := store.Lock()
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return &openedStore{
		store:    store,
		spoolDir: filepath.Join(store.Root(), ".tmp"),
		location: store.Root(),
		// The lock taken above already makes this process the only one.
		maintenanceGate: func(context.Context) (func(), bool) { return func() {}, true },
		close:           func() { unlock() },
	}, nil
}

func openS3Store(ctx context.Context, c config.S3, log *slog.Logger) (*openedStore, error) {
	store, err := s3.New(ctx, s3.Options{
		Bucket:    c.Bucket,
		Prefix:    c.Prefix,
		Region:    c.Region,
		Endpoint:  c.Endpoint,
		PathStyle: c.PathStyle,
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("storage.s3: %w", err)
	}

	spoolDir, err := os.MkdirTemp("", "pullcache-spool-")
	if err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	opened := &openedStore{
		store:           store,
		spoolDir:        spoolDir,
		location:        "s3://" + c.Bucket + "/" + store.ObjectKey(""),
		maintenanceGate: store.Lease(maintenanceLease, maintenanceLeaseTTL).Gate,
		close:           func() { os.RemoveAll(spoolDir) },
	}
	if c.Redirect {
		opened.blobRedirect = blobRedirect(store)
	}
	return opened, nil
}

// blobRedirect presigns the object of a stored blob. The key follows the
// cache's store layout, blobs/<algorithm>/<hex>.
func blobRedirect(store storage.Redirector) func(ctx context.Context, d digest.Digest) (string, error) {
	return func(ctx context.Context, d digest.Digest) (string, error) {
		return store.SignedURL(ctx, "blobs/"+d.Algorithm().String()+"/"+d.Encoded())
	}
}

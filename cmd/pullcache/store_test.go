package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/storage/s3/s3test"
)

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestOpenStoreFilesystemGate(t *testing.T) {
	cfg := config.Default()
	cfg.Storage.Filesystem.Root = t.TempDir()
	opened, err := openStore(context.Background(), cfg, discardLog)
	if err != nil {
		t.Fatalf("openStore: %v", err)
	}
	defer opened.close()

	if opened.blobRedirect != nil {
		t.Error("filesystem store has a blob redirect")
	}
	release, ok := opened.maintenanceGate(context.Background())
	if !ok {
		t.Fatal("maintenance gate closed on a filesystem store, which the serve lock already guards")
	}
	release()
}

// TestOpenStoreS3Gate opens two stores on one bucket, as two replicas do:
// only one passes the maintenance gate at a time.
func TestOpenStoreS3Gate(t *testing.T) {
	gw := s3test.Start(t)
	s3test.IsolateSDK(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	cfg := config.Default()
	cfg.Storage.Filesystem = nil
	cfg.Storage.S3 = &config.S3{Bucket: gw.CreateBucket(t), Prefix: "mirror", Region: s3test.Region,
		Endpoint: gw.Endpoint, PathStyle: true, Redirect: true}

	var replicas []*openedStore
	for range 2 {
		opened, err := openStore(context.Background(), cfg, discardLog)
		if err != nil {
			t.Fatalf("openStore: %v", err)
		}
		defer opened.close()
		replicas = append(replicas, opened)
	}

	release, ok := replicas[0].maintenanceGate(context.Background())
	if !ok {
		t.Fatal("first replica: maintenance gate closed on a free lease")
	}
	if _, ok := replicas[1].maintenanceGate(context.Background()); ok {
		t.Fatal("second replica passed the maintenance gate while the first holds it")
	}
	release()
	release, ok = replicas[1].maintenanceGate(context.Background())
	if !ok {
		t.Fatal("second replica: maintenance gate closed after the first released it")
	}
	release()

	if replicas[0].blobRedirect == nil {
		t.Error("S3 store with redirect: true has no blob redirect")
	}
}

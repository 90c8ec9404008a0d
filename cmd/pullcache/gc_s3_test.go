package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/s3"
	"github.com/pullcache/pullcache/internal/storage/s3/s3test"
)

// TestGCCommandOnS3 runs gc on an S3 configuration: it removes the
// unreferenced blobs older than gc_grace and keeps the rest, and it refuses
// to run while another holder has the maintenance lease.
func TestGCCommandOnS3(t *testing.T) {
	gw := s3test.Start(t)
	s3test.IsolateSDK(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	bucket := gw.CreateBucket(t)
	ctx := context.Background()
	configPath := filepath.Join(t.TempDir(), "pullcache.yaml")
	config := fmt.Sprintf(`storage:
  s3:
    bucket: %s
    prefix: mirror
    region: %s
    endpoint: %s
    path_style: true
cache:
  gc_grace: 1h
`, bucket, s3test.Region, gw.Endpoint)
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	// Another replica's store on the same bucket.
	replica, err := s3.New(ctx, s3.Options{Bucket: bucket, Prefix: "mirror", Region: s3test.Region,
		Endpoint: gw.Endpoint, PathStyle: true, Credentials: gw.Credentials()})
	if err != nil {
		t.Fatalf("open the replica's store: %v", err)
	}
	put := func(key string, data []byte, age time.Duration) {
		t.Helper()
		if err := storage.PutBytes(ctx, replica, key, data); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		// versitygw reports the file's mtime as Last-Modified.
		at := time.Now().Add(-age)
		if err := os.Chtimes(filepath.Join(gw.Dir, bucket, "mirror", filepath.FromSlash(key)), at, at); err != nil {
			t.Fatalf("age %s: %v", key, err)
		}
	}
	blob := func(content string, age time.Duration) string {
		key := cache.BlobKey(digest.FromString(content))
		put(key, []byte(content), age)
		return key
	}
	configBlob, layer := digest.FromString("config"), digest.FromString("layer")
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":6},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":5}]}`, configBlob, layer)
	named := []string{blob("config", 2*time.Hour), blob("layer", 2*time.Hour)}
	// The record shape the cache stores a manifest in.
	record, err := json.Marshal(map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json",
		"digest": digest.FromString(manifest), "body": []byte(manifest)})
	if err != nil {
		t.Fatal(err)
	}
	if d, _, err := cache.DecodeManifestRecord(record); err != nil || d != digest.FromString(manifest) {
		t.Fatalf("the test's manifest record decodes to %s, %v", d, err)
	}
	put(cache.ManifestKey(digest.FromString(manifest)), record, 2*time.Hour)
	old := blob("unreferenced", 2*time.Hour)
	young := blob("unreferenced, just stored", 0)

	heldLease, err := replica.Lease(maintenanceLease, time.Minute).TryAcquire(ctx)
	if err != nil {
		t.Fatalf("take the maintenance lease as another replica: %v", err)
	}
	for _, args := range [][]string{{"--dry-run"}, {}} {
		_, err := runCommand(t, append([]string{"gc", "--config", configPath}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "maintenance lease is in use by another replica") {
			t.Errorf("gc %v while another replica holds the lease: error %v, want one about the maintenance lease", args, err)
		}
	}
	if err := heldLease.Release(ctx); err != nil {
		t.Fatalf("release the lease: %v", err)
	}
	has := func(key string) bool {
		t.Helper()
		_, err := replica.Stat(ctx, key)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("stat %s: %v", key, err)
		}
		return err == nil
	}
	if !has(old) {
		t.Fatal("gc removed a blob while another replica held the lease")
	}

	out, err := runCommand(t, "gc", "--config", configPath, "--dry-run")
	if err != nil {
		t.Fatalf("gc --dry-run: %v\n%s", err, out)
	}
	if !strings.Contains(out, "would remove 1 unreferenced blobs (12 B)") || !strings.Contains(out, old+"\n") {
		t.Errorf("gc --dry-run output:\n%s\nwant %s listed as the one unreferenced blob of 12 B", out, old)
	}
	if strings.Contains(out, young) {
		t.Errorf("gc --dry-run lists %s, younger than gc_grace", young)
	}
	if !has(old) {
		t.Error("gc --dry-run removed the unreferenced blob")
	}

	out, err = runCommand(t, "gc", "--config", configPath)
	if err != nil {
		t.Fatalf("gc: %v\n%s", err, out)
	}
	if !strings.Contains(out, "removed 1 unreferenced blobs (12 B)") {
		t.Errorf("gc output:\n%s\nwant one unreferenced blob of 12 B removed", out)
	}
	if has(old) {
		t.Errorf("%s is still stored after gc", old)
	}
	for _, key := range append(named, young) {
		if !has(key) {
			t.Errorf("gc removed %s, which a manifest names or which is younger than gc_grace", key)
		}
	}

	// gc released the lease: a replica can take it at once.
	heldLease, err = replica.Lease(maintenanceLease, time.Minute).TryAcquire(ctx)
	if err != nil {
		t.Fatalf("take the maintenance lease after gc: %v", err)
	}
	heldLease.Release(ctx)
}

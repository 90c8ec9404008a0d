package s3

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/storage/s3/s3test"
	"github.com/pullcache/pullcache/internal/storage/storetest"
)

// newTestStore opens a store on a new bucket of the gateway, under prefix.
func newTestStore(t *testing.T, gw *s3test.Gateway, bucket, prefix string) *Store {
	t.Helper()
	s3test.IsolateSDK(t)
	store, err := New(context.Background(), Options{
		Bucket:      bucket,
		Prefix:      prefix,
		Region:      s3test.Region,
		Endpoint:    gw.Endpoint,
		PathStyle:   true,
		Credentials: gw.Credentials(),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return store
}

func TestStoreConformance(t *testing.T) {
	gw := s3test.Start(t)
	storetest.Run(t, func(t *testing.T) storage.Store {
		return newTestStore(t, gw, gw.CreateBucket(t), "cache")
	}, storetest.Options{
		// Three parts of 8 MiB and a short one.
		LargeSize: 3*partSize + 12345,
	})
}

func TestStoreConformanceNoPrefix(t *testing.T) {
	gw := s3test.Start(t)
	storetest.Run(t, func(t *testing.T) storage.Store {
		return newTestStore(t, gw, gw.CreateBucket(t), "")
	}, storetest.Options{LargeSize: partSize + 1})
}

// multipartUploads lists the unfinished multipart uploads in the bucket.
func multipartUploads(t *testing.T, store *Store) []types.MultipartUpload {
	t.Helper()
	out, err := store.client.ListMultipartUploads(context.Background(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(store.bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	return out.Uploads
}

// TestLargeWriteStreams checks that a large write is sent while it is
// written, as a multipart upload that Abort removes, and not buffered whole.
func TestLargeWriteStreams(t *testing.T) {
	gw := s3test.Start(t)
	store := newTestStore(t, gw, gw.CreateBucket(t), "cache")
	ctx := context.Background()

	w, err := store.Create(ctx, "blobs/sha256/streamed")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer w.Abort()
	chunk := make([]byte, 1<<20)
	for range 3 * partSize / len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}

	uploads := multipartUploads(t, store)
	if len(uploads) != 1 || aws.ToString(uploads[0].Key) != "cache/blobs/sha256/streamed" {
		t.Fatalf("multipart uploads while writing = %d, want 1 for cache/blobs/sha256/streamed", len(uploads))
	}
	if _, err := store.Stat(ctx, "blobs/sha256/streamed"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat while writing: error = %v, want ErrNotFound", err)
	}

	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if uploads := multipartUploads(t, store); len(uploads) != 0 {
		t.Errorf("%d multipart uploads left after Abort, want 0", len(uploads))
	}
}

func TestNewAbortsOnlyStaleUploads(t *testing.T) {
	gw := s3test.Start(t)
	bucket := gw.CreateBucket(t)
	store := newTestStore(t, gw, bucket, "cache")
	ctx := context.Background()
	for _, key := range []string{"cache/blobs/sha256/crashed", "other/blobs/sha256/foreign"} {
		_, err := store.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("create multipart upload: %v", err)
		}
	}

	// A replica starting now keeps both: they may be writes in progress.
	newTestStore(t, gw, bucket, "cache")
	if got := len(multipartUploads(t, store)); got != 2 {
		t.Fatalf("uploads after a start-up = %d, want 2", got)
	}

	// A day later, a start-up aborts the one under its prefix.
	later, err := New(ctx, Options{
		Bucket: bucket, Prefix: "cache", Region: s3test.Region, Endpoint: gw.Endpoint, PathStyle: true,
		Credentials: gw.Credentials(), Now: func() time.Time { return time.Now().Add(staleUploadAge + time.Hour) },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	uploads := multipartUploads(t, later)
	if len(uploads) != 1 || aws.ToString(uploads[0].Key) != "other/blobs/sha256/foreign" {
		t.Errorf("uploads after a start-up a day later = %v, want only other/blobs/sha256/foreign", uploads)
	}
}

func TestPrefixesIsolateStores(t *testing.T) {
	gw := s3test.Start(t)
	bucket := gw.CreateBucket(t)
	a := newTestStore(t, gw, bucket, "team-a")
	b := newTestStore(t, gw, bucket, "/team-b/")
	ctx := context.Background()

	if err := storage.PutBytes(ctx, a, "blobs/sha256/x", []byte("a")); err != nil {
		t.Fatalf("put: %v", err)
	}
	if _, err := b.Stat(ctx, "blobs/sha256/x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("store b sees store a's object: %v", err)
	}
	var keys []string
	b.Walk(ctx, "", func(key string, _ storage.Info) error {
		keys = append(keys, key)
		return nil
	})
	if len(keys) != 0 {
		t.Errorf("store b lists %v, want nothing", keys)
	}
	if got := a.ObjectKey("blobs/sha256/x"); got != "team-a/blobs/sha256/x" {
		t.Errorf("ObjectKey = %q, want team-a/blobs/sha256/x", got)
	}
}

func TestSignedURLServesObject(t *testing.T) {
	gw := s3test.Start(t)
	store := newTestStore(t, gw, gw.CreateBucket(t), "cache")
	ctx := context.Background()
	if err := storage.PutBytes(ctx, store, "blobs/sha256/signed", []byte("0123456789")); err != nil {
		t.Fatalf("put: %v", err)
	}

	url, err := store.SignedURL(ctx, "blobs/sha256/signed")
	if err != nil {
		t.Fatalf("SignedURL: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Range", "bytes=2-")
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		t.Fatalf("GET signed URL: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusPartialContent || string(body) != "23456789" {
		t.Errorf("GET signed URL with a range = %d %q, want 206 %q", resp.StatusCode, body, "23456789")
	}

	if _, err := store.SignedURL(ctx, "../escape"); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("SignedURL of an invalid key: error = %v, want ErrInvalidKey", err)
	}
}

func TestNewMissingBucket(t *testing.T) {
	gw := s3test.Start(t)
	s3test.IsolateSDK(t)
	_, err := New(context.Background(), Options{
		Bucket: "no-such-bucket", Region: s3test.Region, Endpoint: gw.Endpoint, PathStyle: true, Credentials: gw.Credentials(),
	})
	if err == nil || !strings.Contains(err.Error(), "bucket no-such-bucket not reachable; check storage.s3") {
		t.Errorf("New on a missing bucket: error = %v, want one that names the bucket and what to check", err)
	}
}

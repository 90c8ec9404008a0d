package s3

import (
	"context"
	"testing"

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

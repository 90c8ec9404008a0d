package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestReplicasKeepBucketUnderMaxSize pulls images alternately through two
// replicas that share a bucket, whose max_size has room for two of them.
// After every pull the bucket settles under max_size, and the least
// recently used images go whole. Evicted images pull again through either
// replica.
func TestReplicasKeepBucketUnderMaxSize(t *testing.T) {
	t.Parallel()
	const (
		layerSize = 150 << 10
		maxSize   = 400 << 10
	)
	hub := startHub(t, hubOptions{})
	var images []lruImage
	for i, tag := range []string{"a", "b", "c", "d"} {
		images = append(images, seedLRUImage(t, hub, tag, layerSize, uint64(10+i)))
	}
	bucket := startSharedBucket(t)
	cacheYAML := "cache:\n  max_size: 400KiB\n  gc_grace: 0s\n"
	replicas := []*mirror{startReplica(t, hub, bucket, replicaConfig{cacheYAML: cacheYAML}), startReplica(t, hub, bucket, replicaConfig{cacheYAML: cacheYAML})}

	// a through A, b through B, c through A, d through B: each replica on
	// its own commits only part of what fills the bucket.
	for i, img := range images {
		pullOverHTTP(t, replicas[i%2].url(), "library/lru", img.tag)
		waitBucketUnder(t, bucket, maxSize, fmt.Sprintf("the pull of %s through replica %c", img.tag, 'A'+i%2))
	}
	stored := 0
	for _, img := range images {
		if checkImageWhole(t, bucket, img) {
			stored++
		}
	}
	if stored > 2 {
		t.Errorf("%d of the 4 images are stored, want at most the 2 that fit", stored)
	}
	if !checkImageWhole(t, bucket, images[3]) {
		t.Errorf("the image pulled last, d, was evicted")
	}

	// Every image pulls again through the replica that did not pull it
	// first, evicted or not, and the bucket stays under max_size.
	for i, img := range images {
		want := "MISS"
		if checkImageWhole(t, bucket, img) {
			want = "HIT"
		}
		for j, status := range pullOverHTTP(t, replicas[(i+1)%2].url(), "library/lru", img.tag) {
			if status != want {
				t.Errorf("second pull of %s through replica %c, request %d: X-Cache-Status %s, want %s", img.tag, 'A'+(i+1)%2, j, status, want)
			}
		}
		waitBucketUnder(t, bucket, maxSize, fmt.Sprintf("the second pull of %s through replica %c", img.tag, 'A'+(i+1)%2))
	}
	for _, img := range images {
		checkImageWhole(t, bucket, img)
	}

	evicted := 0
	for _, m := range replicas {
		output, err := os.ReadFile(filepath.Join(m.logDir, "pullcache-1.log"))
		if err != nil {
			t.Fatal(err)
		}
		evicted += strings.Count(string(output), "evicted least recently used content")
	}
	if evicted == 0 {
		t.Errorf("no replica logged an eviction")
	}
}

// bucketSize sums the objects of the store in the bucket, leaving out the
// lease objects, which eviction does not count.
func bucketSize(t *testing.T, bucket *sharedBucket) int64 {
	t.Helper()
	var total int64
	pages := s3.NewListObjectsV2Paginator(bucket.gw.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket.bucket), Prefix: aws.String(bucketPrefix + "/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list the bucket: %v", err)
		}
		for _, obj := range page.Contents {
			if !strings.HasPrefix(aws.ToString(obj.Key), bucketPrefix+"/.") {
				total += aws.ToInt64(obj.Size)
			}
		}
	}
	return total
}

// waitBucketUnder waits up to 30 s for the bucket to hold at most limit
// bytes, and to hold as much 100 ms later, so that no eviction run is
// half done.
func waitBucketUnder(t *testing.T, bucket *sharedBucket, limit int64, after string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	size, last := bucketSize(t, bucket), int64(-1)
	for (size > limit || size != last) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		size, last = bucketSize(t, bucket), size
	}
	if size > limit {
		t.Errorf("after %s the bucket holds %d bytes for 30 s, want at most max_size %d", after, size, limit)
	}
}

// checkImageWhole reports whether img's manifest is stored, and checks that
// its tag, link and blobs are stored exactly when it is.
func checkImageWhole(t *testing.T, bucket *sharedBucket, img lruImage) bool {
	t.Helper()
	manifest := exists(bucket.objectPath("manifests/sha256/" + img.manifest.Encoded()))
	for _, key := range []string{
		"repositories/docker.io/library/lru/_tags/" + img.tag,
		"repositories/docker.io/library/lru/_digests/sha256-" + img.manifest.Encoded(),
		"blobs/sha256/" + img.config.Encoded(),
		"blobs/sha256/" + img.layer.Encoded(),
	} {
		if got := exists(bucket.objectPath(key)); got != manifest {
			t.Errorf("image %s: manifest stored %v, but %s stored %v", img.tag, manifest, key, got)
		}
	}
	return manifest
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

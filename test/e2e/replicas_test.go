package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"
)

func TestReplicasShareOneBucket(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()
	hub := startHub(t, hubOptions{})
	bucket := startSharedBucket(t)
	replicas := []*mirror{
		startReplica(t, hub, bucket, replicaConfig{}),
		startReplica(t, hub, bucket, replicaConfig{}),
		startReplica(t, hub, bucket, replicaConfig{}),
	}
	client := newClientEnv(t)
	want := hub.std.MultiArch

	client.cranePull(t, replicas[0].ref(want.Repo+":"+want.Tag)).checkIndexPreserved(t, want)
	first := hub.Stats()
	if wantGets := 1 + len(want.Images); first.ManifestGetsByRepo[want.Repo] != wantGets {
		t.Errorf("the pull through replica A made %d upstream manifest GETs, want %d", first.ManifestGetsByRepo[want.Repo], wantGets)
	}

	for i, m := range replicas[1:] {
		client.cranePull(t, m.ref(want.Repo+":"+want.Tag)).checkIndexPreserved(t, want)
		response := m.getManifest(t, want.Repo, want.Tag)
		if got := response.header.Get("X-Cache-Status"); got != "HIT" {
			t.Errorf("replica %c: X-Cache-Status of the tag = %q, want HIT (stored by replica A)", 'B'+i, got)
		}
	}

	after := hub.Stats()
	if got, want := sum(after.Pulls), sum(first.Pulls); got != want {
		t.Errorf("pulls through replicas B and C spent %d more upstream pulls, want 0", got-want)
	}
	if after.ManifestGets != first.ManifestGets || after.ManifestHeads != first.ManifestHeads {
		t.Errorf("replicas B and C sent %d manifest GETs and %d HEADs upstream, want none",
			after.ManifestGets-first.ManifestGets, after.ManifestHeads-first.ManifestHeads)
	}
	if after.BlobGets != first.BlobGets {
		t.Errorf("replicas B and C sent %d blob GETs upstream, want none", after.BlobGets-first.BlobGets)
	}
}

func sum(counts map[string]int) int {
	total := 0
	for _, n := range counts {
		total += n
	}
	return total
}

func TestReplicasConcurrentBlob(t *testing.T) {
	t.Parallel()
	const (
		clientsPerReplica = 8
		layerSize         = 32 << 20
		// bound is generous for 24 transfers of 32 MiB, three of them
		// through S3, on a 2-core machine under the race detector.
		bound = 3 * time.Minute
	)
	hub := startHub(t, hubOptions{largeLayerSize: layerSize})
	bucket := startSharedBucket(t)
	var replicas []*mirror
	for range 3 {
		replicas = append(replicas, startReplica(t, hub, bucket, replicaConfig{}))
	}
	layer := hub.std.Big.Layers[0]
	hub.SetFault(slowBlobs(500 * time.Microsecond))

	start := time.Now()
	probes := make([]blobProbe, len(replicas)*clientsPerReplica)
	var wg sync.WaitGroup
	for i := range probes {
		m := replicas[i%len(replicas)]
		wg.Go(func() {
			probes[i] = probeBlob(t, m.url()+"/v2/"+hub.std.Big.Repo+"/blobs/"+layer.Digest.String())
		})
	}
	wg.Wait()
	if elapsed := time.Since(start); elapsed > bound {
		t.Errorf("%d clients took %s, want under %s", len(probes), elapsed, bound)
	}

	for i, probe := range probes {
		if probe.err != nil {
			t.Errorf("client %d (replica %c): %v", i, 'A'+i%len(replicas), probe.err)
			continue
		}
		if probe.digest != layer.Digest {
			t.Errorf("client %d (replica %c) received bytes with digest %s, want %s", i, 'A'+i%len(replicas), probe.digest, layer.Digest)
		}
	}

	if got := hub.Stats().BlobGetsByDigest[layer.Digest]; got < 1 || got > len(replicas) {
		t.Errorf("%d upstream blob GETs of the layer, want 1 to %d (at most one per replica)", got, len(replicas))
	}
	if got := fileDigest(t, bucket.objectPath("blobs/sha256/"+layer.Digest.Encoded())); got != layer.Digest {
		t.Errorf("the bucket holds bytes with digest %s for the layer, want %s", got, layer.Digest)
	}
	if n := countUploads(t, bucket); n != 0 {
		t.Errorf("%d multipart uploads left in the bucket, want 0", n)
	}
	if objects := countObjects(t, bucket, bucketPrefix+"/blobs/"); objects != 1 {
		t.Errorf("the bucket holds %d blob objects, want 1 (the layer)", objects)
	}
}

func TestReplicaRedirectsStoredBlob(t *testing.T) {
	t.Parallel()
	hub := startHub(t, hubOptions{})
	bucket := startSharedBucket(t)
	m := startReplica(t, hub, bucket, replicaConfig{redirect: true})
	layer := hub.std.Alpine.Layers[0]
	url := m.url() + "/v2/" + hub.std.Alpine.Repo + "/blobs/" + layer.Digest.String()

	if probe := probeBlob(t, url); probe.err != nil || probe.cacheStatus != "MISS" || probe.digest != layer.Digest {
		t.Fatalf("first GET: status %q, digest %s, err %v; want MISS and %s", probe.cacheStatus, probe.digest, probe.err, layer.Digest)
	}

	noFollow := newHTTPClient(t)
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(url)
	if err != nil {
		t.Fatalf("second GET: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("second GET status = %d, want 307", resp.StatusCode)
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != layer.Digest.String() {
		t.Errorf("Docker-Content-Digest = %q, want %s", got, layer.Digest)
	}
	if got := resp.Header.Get("X-Cache-Status"); got != "HIT" {
		t.Errorf("X-Cache-Status = %q, want HIT", got)
	}

	// A client that follows the redirect gets the bytes from the bucket.
	if probe := probeBlob(t, url); probe.err != nil || probe.digest != layer.Digest {
		t.Errorf("GET following the redirect: digest %s, err %v; want %s", probe.digest, probe.err, layer.Digest)
	}
	if got := hub.Stats().BlobGetsByDigest[layer.Digest]; got != 1 {
		t.Errorf("%d upstream blob GETs of the layer, want 1", got)
	}
}

// TestReplicaRedirectClients pulls a stored image with crane and skopeo
// through a replica with redirect on, so that every blob comes from a
// presigned URL of the bucket.
func TestReplicaRedirectClients(t *testing.T) {
	requireTool(t, "crane")
	requireTool(t, "skopeo")
	t.Parallel()
	hub := startHub(t, hubOptions{})
	bucket := startSharedBucket(t)
	m := startReplica(t, hub, bucket, replicaConfig{redirect: true})
	client := newClientEnv(t)
	want := hub.std.MultiArch
	ref := m.ref(want.Repo + ":" + want.Tag)

	client.cranePull(t, ref).checkIndexPreserved(t, want)
	stored := hub.Stats()

	layer := want.Images[0].Layers[0]
	resp := m.request(t, http.MethodGet, want.Repo+"/blobs/"+layer.Digest.String(), "")
	if resp.status != http.StatusOK || digest.FromBytes(resp.body) != layer.Digest {
		t.Fatalf("GET of a stored layer following the redirect: status %d, digest %s; want 200 and %s", resp.status, digest.FromBytes(resp.body), layer.Digest)
	}

	client.cranePull(t, ref).checkIndexPreserved(t, want)
	layout := ociLayout{dir: filepath.Join(t.TempDir(), "layout")}
	result := client.skopeo(t, "copy", "--all", "--preserve-digests", "--src-tls-verify=false", "docker://"+ref, "oci:"+layout.dir+":"+want.Tag)
	if result.err != nil {
		t.Fatalf("skopeo copy through redirects failed: %s", result.failure())
	}
	layout.checkIndexPreserved(t, want)

	if after := hub.Stats(); after.BlobGets != stored.BlobGets {
		t.Errorf("pulls of the stored image made %d upstream blob GETs, want 0", after.BlobGets-stored.BlobGets)
	}
}

// TestReplicaKilledMidUpload kills a replica while it uploads a blob: the
// bucket shows no object, a replica starting next keeps the young upload,
// and another replica then stores the blob whole.
func TestReplicaKilledMidUpload(t *testing.T) {
	t.Parallel()
	const layerSize = 24 << 20
	hub := startHub(t, hubOptions{largeLayerSize: layerSize})
	bucket := startSharedBucket(t)
	a := startReplica(t, hub, bucket, replicaConfig{})
	layer := hub.std.Big.Layers[0]
	blobPath := "/v2/" + hub.std.Big.Repo + "/blobs/" + layer.Digest.String()

	// 768 chunks 5 ms apart: the transfer takes about 4 s. Past the first
	// 8 MiB part the replica has started a multipart upload.
	hub.SetFault(slowBlobs(5 * time.Millisecond))
	received := startBlobDownload(t, a.url()+blobPath, 10<<20)
	if received < 10<<20 || received >= layer.Size {
		t.Fatalf("the download had %d of %d bytes when the replica was killed, want a transfer in the middle", received, layer.Size)
	}
	a.kill()

	if n := countObjects(t, bucket, bucketPrefix+"/blobs/"); n != 0 {
		t.Errorf("the bucket holds %d blob objects after the replica was killed mid-upload, want 0", n)
	}
	if n := countUploads(t, bucket); n != 1 {
		t.Fatalf("the bucket holds %d multipart uploads after the kill, want the killed replica's 1", n)
	}

	// A replica starting now must not abort an upload that young: it could
	// be another replica's transfer in progress.
	b := startReplica(t, hub, bucket, replicaConfig{})
	if n := countUploads(t, bucket); n != 1 {
		t.Errorf("the bucket holds %d multipart uploads after a replica started, want 1", n)
	}

	hub.ClearFaults()
	probe := probeBlob(t, b.url()+blobPath)
	if probe.err != nil || probe.digest != layer.Digest {
		t.Fatalf("GET through the new replica: digest %s, err %v; want %s", probe.digest, probe.err, layer.Digest)
	}
	if got := fileDigest(t, bucket.objectPath("blobs/sha256/"+layer.Digest.Encoded())); got != layer.Digest {
		t.Errorf("the bucket holds bytes with digest %s for the layer, want %s", got, layer.Digest)
	}
}

func countObjects(t *testing.T, bucket *sharedBucket, prefix string) int {
	t.Helper()
	n := 0
	pages := s3.NewListObjectsV2Paginator(bucket.gw.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket.bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", prefix, err)
		}
		n += len(page.Contents)
	}
	return n
}

func countUploads(t *testing.T, bucket *sharedBucket) int {
	t.Helper()
	out, err := bucket.gw.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket.bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	return len(out.Uploads)
}

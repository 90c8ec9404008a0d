package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// digestWriter hashes and counts what a client writes to its stdout, so
// that 16 copies of a 64 MiB layer need no disk space.
type digestWriter struct {
	digester digest.Digester
	written  int64
}

func newDigestWriter() *digestWriter {
	return &digestWriter{digester: digest.SHA256.Digester()}
}

func (w *digestWriter) Write(p []byte) (int, error) {
	w.written += int64(len(p))
	return w.digester.Hash().Write(p)
}

// slowChunk is the chunk size of the FaultSlow faults. hubsim waits once
// per write, and it writes at most 32 KiB at a time (io.Copy's buffer), so
// a larger Fault.ChunkSize would not make chunks larger.
const slowChunk = 32 << 10

// slowBlobs returns a fault that sends blob bytes from the CDN in chunks of
// slowChunk bytes, delay apart.
func slowBlobs(delay time.Duration) hubsim.Fault {
	return hubsim.Fault{Kind: hubsim.FaultSlow, Target: hubsim.TargetCDN, ChunkSize: slowChunk, Delay: delay}
}

func TestConcurrentBlobOneFetch(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()
	const (
		clients   = 16
		layerSize = 64 << 20
	)
	hub := startHub(t, hubOptions{largeLayerSize: layerSize})
	m := startMirror(t, hub, mirrorConfig{})
	client := newClientEnv(t)
	layer := hub.std.Big.Layers[0]
	ref := m.ref(hub.std.Big.Repo + "@" + layer.Digest.String())

	// Slow the upstream transfer to 2048 chunks at least 0.5 ms apart, so
	// that every client starts while it is still in progress.
	hub.SetFault(slowBlobs(500 * time.Microsecond))

	outputs := make([]*digestWriter, clients)
	results := make([]toolResult, clients)
	var wg sync.WaitGroup
	for i := range clients {
		outputs[i] = newDigestWriter()
		wg.Go(func() {
			results[i] = client.run(t, outputs[i], "crane", "blob", ref)
		})
	}
	// Two raw GETs next to the crane processes show the cache status: a
	// client that joins the transfer in progress gets MISS.
	probes := make([]blobProbe, 2)
	for i := range probes {
		wg.Go(func() {
			probes[i] = probeBlob(t, m.url()+"/v2/"+hub.std.Big.Repo+"/blobs/"+layer.Digest.String())
		})
	}
	wg.Wait()

	for i, probe := range probes {
		if probe.err != nil {
			t.Errorf("raw GET %d of the layer failed: %v", i, probe.err)
			continue
		}
		if probe.cacheStatus != "MISS" {
			t.Errorf("raw GET %d of the layer has X-Cache-Status %q, want MISS (joined the transfer in progress)", i, probe.cacheStatus)
		}
		if probe.digest != layer.Digest {
			t.Errorf("raw GET %d of the layer received bytes with digest %s, want %s", i, probe.digest, layer.Digest)
		}
	}
	for i, result := range results {
		if result.err != nil {
			t.Errorf("client %d: crane blob %s failed: %s", i, ref, result.failure())
			continue
		}
		if outputs[i].written != layer.Size {
			t.Errorf("client %d received %d bytes, want %d", i, outputs[i].written, layer.Size)
		}
		if got := outputs[i].digester.Digest(); got != layer.Digest {
			t.Errorf("client %d received bytes with digest %s, want %s", i, got, layer.Digest)
		}
	}

	stats := hub.Stats()
	if got := stats.BlobGetsByDigest[layer.Digest]; got != 1 {
		t.Errorf("%d clients made %d upstream blob GETs of the layer, want 1", clients, got)
	}
	if got := stats.CDNGetsByDigest[layer.Digest]; got != 1 {
		t.Errorf("%d clients made %d upstream CDN GETs of the layer, want 1", clients, got)
	}
	if got := fileDigest(t, m.blobPath(layer.Digest.Encoded())); got != layer.Digest {
		t.Errorf("the store contains bytes with digest %s for the layer, want %s", got, layer.Digest)
	}
}

// blobProbe is the outcome of one raw blob GET.
type blobProbe struct {
	cacheStatus string
	digest      digest.Digest
	err         error
}

// probeBlob GETs url and hashes the body. It runs on its own goroutine, so
// it returns errors instead of failing the test.
func probeBlob(t *testing.T, url string) blobProbe {
	resp, err := newHTTPClient(t).Get(url)
	if err != nil {
		return blobProbe{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return blobProbe{err: fmt.Errorf("GET %s returned %d, want 200", url, resp.StatusCode)}
	}
	digester := digest.SHA256.Digester()
	if _, err := io.Copy(digester.Hash(), resp.Body); err != nil {
		return blobProbe{err: fmt.Errorf("read GET %s: %w", url, err)}
	}
	return blobProbe{cacheStatus: resp.Header.Get("X-Cache-Status"), digest: digester.Digest()}
}

func TestKillDuringBlobFetch(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()
	const layerSize = 16 << 20
	hub := startHub(t, hubOptions{largeLayerSize: layerSize})
	m := startMirror(t, hub, mirrorConfig{})
	client := newClientEnv(t)
	layer := hub.std.Big.Layers[0]
	blobPath := hub.std.Big.Repo + "/blobs/" + layer.Digest.String()

	// 512 chunks 10 ms apart: the transfer takes about 5 s, and the first
	// MiB arrives after about 0.3 s.
	hub.SetFault(slowBlobs(10 * time.Millisecond))

	received := startBlobDownload(t, m.url()+"/v2/"+blobPath, 1<<20)
	if received < 1<<20 || received >= layer.Size {
		t.Fatalf("the download had %d of %d bytes when the server was killed, want a transfer in the middle", received, layer.Size)
	}
	m.kill()

	if _, err := os.Stat(m.blobPath(layer.Digest.Encoded())); err == nil {
		t.Errorf("the store contains %s after the server was killed during its transfer", layer.Digest)
	}

	m.restart(mirrorConfig{})
	checkNoTempFiles(t, m)
	if _, err := os.Stat(m.blobPath(layer.Digest.Encoded())); err == nil {
		t.Errorf("the store contains %s after a restart that followed a killed transfer", layer.Digest)
	}

	head := m.request(t, http.MethodHead, blobPath, "")
	if head.status != http.StatusOK {
		t.Errorf("HEAD of the blob after the restart returned %d, want 200", head.status)
	}
	if got := head.header.Get("Content-Length"); got != fmt.Sprint(layer.Size) {
		t.Errorf("HEAD of the blob after the restart has Content-Length %s, want %d", got, layer.Size)
	}
	if got := head.header.Get("X-Cache-Status"); got == "HIT" {
		t.Errorf("HEAD of the blob after the restart was served from the store (X-Cache-Status HIT), want the size from an upstream HEAD")
	}

	hub.ClearFaults()

	output := newDigestWriter()
	result := client.run(t, output, "crane", "blob", m.ref(hub.std.Big.Repo+"@"+layer.Digest.String()))
	if result.err != nil {
		t.Fatalf("crane blob after the restart failed: %s", result.failure())
	}
	if output.written != layer.Size {
		t.Errorf("crane blob after the restart received %d bytes, want %d", output.written, layer.Size)
	}
	if got := output.digester.Digest(); got != layer.Digest {
		t.Errorf("crane blob after the restart received bytes with digest %s, want %s", got, layer.Digest)
	}
	if got := fileDigest(t, m.blobPath(layer.Digest.Encoded())); got != layer.Digest {
		t.Errorf("the store contains bytes with digest %s for the layer, want %s", got, layer.Digest)
	}
}

// startBlobDownload starts a GET of url and returns once at least minBytes
// bytes of the body arrived, or after 10 s. The rest of the body is read
// in the background until the connection ends, and the request is
// cancelled at cleanup.
func startBlobDownload(t *testing.T, url string, minBytes int64) int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("build GET %s: %v", url, err)
	}
	resp, err := newHTTPClient(t).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET %s returned %d, want 200", url, resp.StatusCode)
	}

	var received int64
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 64<<10)
	for received < minBytes && time.Now().Before(deadline) {
		n, err := resp.Body.Read(buf)
		received += int64(n)
		if err != nil {
			resp.Body.Close()
			t.Fatalf("GET %s: the body ended after %d bytes: %v", url, received, err)
		}
	}
	go func() {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	return received
}

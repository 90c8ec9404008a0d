package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// Bounds of the load test: this many client connections, each sending
// requests back to back for loadDuration.
const (
	loadConnections = 1000
	loadDuration    = 10 * time.Second
	// loadSettle bounds the wait for goroutines and file descriptors to
	// return to their count before the load.
	loadSettle = 10 * time.Second
	// leakSlack allows for runtime and test goroutines and descriptors
	// that come and go on their own, such as a timer or the sampler.
	leakSlack = 5
)

// loadRequest is one request of the mix and what a correct response is.
type loadRequest struct {
	method string
	path   string
	header http.Header
	status int
	// digest is what the body must hash to; empty for HEAD and ranges.
	digest digest.Digest
	// length is the body length of a range request.
	length int
}

// loadMix returns the requests of cached pulls of the standard images:
// tags, manifests by digest, blobs, blob HEADs and a blob range, all
// stored already.
func loadMix(m *mirror) []loadRequest {
	var mix []loadRequest
	addImage := func(name string, img hubsim.Image) {
		if img.Tag != "" {
			mix = append(mix, loadRequest{method: http.MethodGet, path: manifestPath(name, img.Tag), header: acceptAll(), status: http.StatusOK, digest: img.Digest})
			mix = append(mix, loadRequest{method: http.MethodHead, path: manifestPath(name, img.Tag), header: acceptAll(), status: http.StatusOK})
		}
		mix = append(mix, loadRequest{method: http.MethodGet, path: manifestPath(name, img.Digest.String()), header: acceptAll(), status: http.StatusOK, digest: img.Digest})
		for _, d := range imageBlobs(img) {
			mix = append(mix, loadRequest{method: http.MethodGet, path: blobPath(name, d), status: http.StatusOK, digest: d})
			mix = append(mix, loadRequest{method: http.MethodHead, path: blobPath(name, d), status: http.StatusOK})
		}
	}
	addImage("library/alpine", m.std.Alpine)
	addImage("library/big", m.std.Big)
	for _, child := range m.std.MultiArch.Images {
		addImage("library/multiarch", child)
	}
	mix = append(mix, loadRequest{method: http.MethodGet, path: manifestPath("library/multiarch", m.std.MultiArch.Tag), header: acceptAll(), status: http.StatusOK, digest: m.std.MultiArch.Digest})
	mix = append(mix, loadRequest{method: http.MethodGet, path: blobPath("library/big", m.std.Big.Layers[0].Digest), header: header("Range", "bytes=0-99"), status: http.StatusPartialContent, length: 100})
	return mix
}

// warm makes every request of the mix once, so that the load finds all
// of it stored, and checks each response.
func warm(t *testing.T, m *mirror, mix []loadRequest) {
	t.Helper()
	for _, req := range mix {
		if err := checkLoadRequest(m.client, m.srv.URL, req); err != nil {
			t.Fatalf("warm-up: %v", err)
		}
	}
	m.waitForWrites()
}

func checkLoadRequest(client *http.Client, base string, lr loadRequest) error {
	req, err := http.NewRequest(lr.method, base+lr.path, nil)
	if err != nil {
		return err
	}
	for name, values := range lr.header {
		req.Header[name] = values
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", lr.method, lr.path, err)
	}
	defer resp.Body.Close()

	verifier := digest.Canonical.Digester()
	n, err := io.Copy(verifier.Hash(), resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", lr.method, lr.path, err)
	}
	if resp.StatusCode != lr.status {
		return fmt.Errorf("%s %s: status %d, want %d", lr.method, lr.path, resp.StatusCode, lr.status)
	}
	if lr.digest != "" && verifier.Digest() != lr.digest {
		return fmt.Errorf("%s %s: body digest %s, want %s", lr.method, lr.path, verifier.Digest(), lr.digest)
	}
	if lr.length != 0 && n != int64(lr.length) {
		return fmt.Errorf("%s %s: %d body bytes, want %d", lr.method, lr.path, n, lr.length)
	}
	return nil
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(entries)
}

// peakRSS returns the process's peak resident set size (VmHWM) in KiB.
func peakRSS(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		var kib int64
		if _, err := fmt.Sscanf(scanner.Text(), "VmHWM: %d kB", &kib); err == nil {
			return kib
		}
	}
	return 0
}

// loadPeaks samples the heap and the descriptor count while the load runs.
type loadPeaks struct {
	mu        sync.Mutex
	heapInuse uint64
	fds       int
}

func (p *loadPeaks) sample(t *testing.T) {
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	fds := openFDs(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.heapInuse = max(p.heapInuse, stats.HeapInuse)
	p.fds = max(p.fds, fds)
}

// TestLoadCachedPulls sends cached pulls over 1,000 concurrent connections
// for 10 s. Every request must succeed with the stored bytes and none may
// reach upstream, and afterwards the goroutines and file descriptors must
// return to their count before the load. The peak memory is logged for
// BENCHMARKS.md, not asserted.
func TestLoadCachedPulls(t *testing.T) {
	m := newMirror(t, mirrorConfig{})
	mix := loadMix(m)
	warm(t, m, mix)
	m.client.CloseIdleConnections()
	hubBefore := hubRequests(m.hub)

	runtime.GC()
	goroutinesBefore, fdsBefore := runtime.NumGoroutine(), openFDs(t)

	transport := &http.Transport{
		DisableCompression:  true,
		MaxIdleConnsPerHost: loadConnections,
		MaxConnsPerHost:     loadConnections,
	}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	var peaks loadPeaks
	samplerCtx, stopSampler := context.WithCancel(context.Background())
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		ticker := time.NewTicker(100 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-samplerCtx.Done():
				return
			case <-ticker.C:
				peaks.sample(t)
			}
		}
	}()

	var ok, failed atomic.Int64
	var failuresMu sync.Mutex
	var failures []string
	deadline := time.Now().Add(loadDuration)
	var wg sync.WaitGroup
	for worker := range loadConnections {
		wg.Go(func() {
			for i := worker; time.Now().Before(deadline); i++ {
				if err := checkLoadRequest(client, m.srv.URL, mix[i%len(mix)]); err != nil {
					failed.Add(1)
					failuresMu.Lock()
					if len(failures) < 10 {
						failures = append(failures, err.Error())
					}
					failuresMu.Unlock()
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	stopSampler()
	<-samplerDone
	transport.CloseIdleConnections()

	total := ok.Load() + failed.Load()
	t.Logf("load: %d connections for %s: %d requests (%.0f/s), %d failed; peak heap in use %d MiB, peak open descriptors %d, peak RSS of the test process %d MiB",
		loadConnections, loadDuration, total, float64(total)/loadDuration.Seconds(), failed.Load(),
		peaks.heapInuse>>20, peaks.fds, peakRSS(t)>>10)
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed, first ones:\n%s", failed.Load(), total, strings.Join(failures, "\n"))
	}
	if ok.Load() < loadConnections {
		t.Errorf("only %d requests succeeded; the load did not run", ok.Load())
	}
	if n := hubRequests(m.hub) - hubBefore; n != 0 {
		t.Errorf("hub received %d requests during the load of cached pulls, want none", n)
	}

	// The server's connections close after the client's, and the runtime
	// reaps their goroutines shortly after.
	settleDeadline := time.Now().Add(loadSettle)
	for {
		goroutines, fds := runtime.NumGoroutine(), openFDs(t)
		if goroutines <= goroutinesBefore+leakSlack && fds <= fdsBefore+leakSlack {
			break
		}
		if time.Now().After(settleDeadline) {
			t.Errorf("after the load: %d goroutines (before: %d), %d file descriptors (before: %d), still above the count before %s later",
				goroutines, goroutinesBefore, fds, fdsBefore, loadSettle)
			buf := make([]byte, 1<<20)
			t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

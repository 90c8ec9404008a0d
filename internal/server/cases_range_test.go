package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// rangeBlobSize is the size of the layer in the reported fault: not a
// multiple of the 8 MiB parts, so the last part is short.
const rangeBlobSize = 25_471_156

// rangeRun makes the ranged requests of a client that downloads in 8 MiB
// parts, resumes, requests a range past the end and finally HEADs the blob.
func rangeRun(t *testing.T, m *mirror, run, name string, data []byte, d digest.Digest) {
	t.Helper()
	size := int64(len(data))
	parts := []struct {
		spec       string
		start, end int64
	}{
		{"bytes=0-8388607", 0, 8388607},
		{"bytes=8388608-16777215", 8388608, 16777215},
		{"bytes=16777216-25165823", 16777216, 25165823},
		{"bytes=25165824-", 25165824, size - 1},
	}

	whole := sha256.New()
	for _, part := range parts {
		r := m.get(blobPath(name, d), header("Range", part.spec))
		expectPart(t, run+" "+part.spec, r, data, part.start, part.end)
		whole.Write(r.body)
	}
	if got := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(whole.Sum(nil))); got != d {
		t.Errorf("%s: the four parts concatenated hash to %s, want %s", run, got, d)
	}

	resume := m.get(blobPath(name, d), header("Range", "bytes=10485760-"))
	expectPart(t, run+" resume", resume, data, 10485760, size-1)

	past := m.get(blobPath(name, d), header("Range", fmt.Sprintf("bytes=%d-", size)))
	if past.status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("%s: range past the end: status %d, want 416", run, past.status)
	}
	if got, want := past.header.Get("Content-Range"), fmt.Sprintf("bytes */%d", size); got != want {
		t.Errorf("%s: range past the end: Content-Range %q, want %q", run, got, want)
	}

	head := m.head(blobPath(name, d), nil)
	if head.status != http.StatusOK {
		t.Errorf("%s: HEAD: status %d, want 200", run, head.status)
	}
	if head.contentLength != size {
		t.Errorf("%s: HEAD: Content-Length %d, want %d", run, head.contentLength, size)
	}
	if got := head.header.Get("Accept-Ranges"); got != "bytes" {
		t.Errorf("%s: HEAD: Accept-Ranges %q, want bytes", run, got)
	}
}

func expectPart(t *testing.T, what string, r response, data []byte, start, end int64) {
	t.Helper()
	if r.status != http.StatusPartialContent {
		t.Errorf("%s: status %d, want 206", what, r.status)
		return
	}
	if got, want := r.header.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/%d", start, end, len(data)); got != want {
		t.Errorf("%s: Content-Range %q, want %q", what, got, want)
	}
	if got, want := r.header.Get("Content-Length"), strconv.FormatInt(end-start+1, 10); got != want {
		t.Errorf("%s: Content-Length %q, want %s", what, got, want)
	}
	if r.readErr != nil {
		t.Errorf("%s: body failed: %v", what, r.readErr)
	}
	if !bytes.Equal(r.body, data[start:end+1]) {
		t.Errorf("%s: %d body bytes differ from bytes %d-%d of the blob", what, len(r.body), start, end)
	}
}

// startChunkedProxy starts a stand-in for a registry, or a proxy in front of one,
// that streams blob bodies with chunked transfer encoding and sends no
// Content-Length, so the mirror learns the size only at the end.
func startChunkedProxy(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("parse hub URL: %v", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && resp.StatusCode == http.StatusOK && strings.Contains(resp.Request.URL.Path, "/blobs/") {
			resp.Header.Del("Content-Length")
			resp.ContentLength = -1
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRangeOnCacheMiss(t *testing.T) {
	variants := []struct {
		name    string
		chunked bool
	}{
		{"upstream sends Content-Length", false},
		{"upstream sends no Content-Length", true},
	}
	for _, variant := range variants {
		t.Run(variant.name, func(t *testing.T) {
			cfg := mirrorConfig{}
			if variant.chunked {
				cfg.frontHub = func(hubURL string) string { return startChunkedProxy(t, hubURL) }
			}
			m := newMirror(t, cfg)
			data := randomBytes(rangeBlobSize, 31)
			d := m.hub.PutBlob(data)
			name := "library/big"

			rangeRun(t, m, "cold", name, data, d)
			if got := m.hub.Stats().BlobGetsByDigest[d]; got > 1 {
				t.Errorf("cold run made %d upstream GETs of the blob, want at most 1 that fills the store", got)
			}

			if !m.waitForBlob(d) {
				t.Fatalf("blob was not stored within 10s of the cold run")
			}
			if size, _ := m.storedBlob(d); size != rangeBlobSize {
				t.Errorf("stored blob has %d bytes, want %d: a ranged body must never be stored as the blob", size, rangeBlobSize)
			}

			hubBefore := hubRequests(m.hub)
			rangeRun(t, m, "warm", name, data, d)
			if got := hubRequests(m.hub) - hubBefore; got != 0 {
				t.Errorf("warm run sent the hub %d requests, want 0", got)
			}
		})
	}
}

package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/storage"
)

const partialBlobSize = 10 << 20

// expectFailedTransfer checks that a client saw a transfer fail instead of
// a complete-looking body: an error before the end, or fewer bytes than
// Content-Length, or an error status.
func expectFailedTransfer(t *testing.T, what string, r response, d digest.Digest) {
	t.Helper()
	if r.status != http.StatusOK {
		if r.status < 500 {
			t.Errorf("%s: status %d, want a failed transfer or a 5xx", what, r.status)
		}
		return
	}
	if r.readErr == nil && int64(len(r.body)) == r.contentLength && r.contentLength >= 0 {
		t.Errorf("%s: the client received %d bytes and a clean end; a failed upstream transfer must fail the client's too", what, len(r.body))
	}
	if r.readErr == nil && r.contentLength < 0 {
		t.Errorf("%s: body ended cleanly without a Content-Length, so the client cannot tell it is incomplete", what)
	}
	if r.readErr == nil && sha256Digest(r.body) != d {
		t.Errorf("%s: a body of wrong bytes ended cleanly", what)
	}
}

// expectNoPartialBlob checks that a HEAD does not report a wrong size and
// that nothing was committed.
func expectNoPartialBlob(t *testing.T, m *mirror, name string, d digest.Digest) {
	t.Helper()
	if _, ok := m.storedBlob(d); ok {
		t.Errorf("blob %s was committed to the store after a failed transfer", d)
	}
	head := m.head(blobPath(name, d), nil)
	if head.status == http.StatusOK && head.contentLength != partialBlobSize {
		t.Errorf("HEAD after the failed transfer: 200 with Content-Length %d, want %d or no 200", head.contentLength, partialBlobSize)
	}
	if head.status != http.StatusOK && head.status != http.StatusNotFound {
		t.Errorf("HEAD after the failed transfer: status %d, want 404 or 200 with the upstream's size", head.status)
	}
}

// expectCleanRetry checks a retry against a healthy upstream: the whole
// blob, and exactly one complete object in the store.
func expectCleanRetry(t *testing.T, m *mirror, name string, d digest.Digest) {
	t.Helper()
	retry := m.get(blobPath(name, d), nil)
	if retry.status != http.StatusOK {
		t.Errorf("retry: status %d, want 200", retry.status)
	}
	if retry.readErr != nil {
		t.Errorf("retry: body failed: %v", retry.readErr)
	}
	if got := sha256Digest(retry.body); got != d {
		t.Errorf("retry: body of %d bytes hashes to %s, want %s", len(retry.body), got, d)
	}
	if size, ok := m.storedBlob(d); !ok || size != partialBlobSize {
		t.Errorf("after the retry the store holds the blob: %v with %d bytes, want it with %d", ok, size, partialBlobSize)
	}
	if keys := m.storedBlobKeys(); len(keys) != 1 {
		t.Errorf("store holds %d blob objects %v, want exactly 1", len(keys), keys)
	}
}

func TestPartialBlobNotStored(t *testing.T) {
	faults := []struct {
		name  string
		fault hubsim.Fault
	}{
		// The connection is reset after 4 MiB of the announced 10 MiB.
		{"truncated", hubsim.Fault{Kind: hubsim.FaultTruncate, Target: hubsim.TargetBlobs, After: 4 << 20, Count: 1}},
		// The full length arrives with one byte inverted.
		{"corrupted", hubsim.Fault{Kind: hubsim.FaultCorrupt, Target: hubsim.TargetBlobs, Count: 1}},
	}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			m := newMirror(t, mirrorConfig{})
			d := m.hub.PutBlob(randomBytes(partialBlobSize, 11))
			name := "library/alpine"

			m.hub.SetFault(tc.fault)
			first := m.get(blobPath(name, d), nil)
			expectFailedTransfer(t, "client during the faulty transfer", first, d)
			if m.hub.Stats().FaultsInjected != 1 {
				t.Fatalf("hub injected %d faults, want 1", m.hub.Stats().FaultsInjected)
			}

			expectNoPartialBlob(t, m, name, d)

			expectCleanRetry(t, m, name, d)
		})
	}
}

// diskFullStore is a stand-in for a filesystem that runs out of space: while
// full is set, each writer it creates fails with ENOSPC after limit bytes.
type diskFullStore struct {
	storage.Store
	limit int64
	full  atomic.Bool
}

func (s *diskFullStore) Create(ctx context.Context, key string) (storage.Writer, error) {
	w, err := s.Store.Create(ctx, key)
	if err != nil || !s.full.Load() {
		return w, err
	}
	return &diskFullWriter{Writer: w, key: key, left: s.limit}, nil
}

type diskFullWriter struct {
	storage.Writer
	key  string
	left int64
}

func (w *diskFullWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= w.left {
		n, err := w.Writer.Write(p)
		w.left -= int64(n)
		return n, err
	}
	n, err := w.Writer.Write(p[:w.left])
	w.left -= int64(n)
	if err != nil {
		return n, err
	}
	return n, fmt.Errorf("write %s: %w", w.key, syscall.ENOSPC)
}

func TestPartialBlobDiskFull(t *testing.T) {
	var full *diskFullStore
	m := newMirror(t, mirrorConfig{wrapStore: func(s storage.Store) storage.Store {
		full = &diskFullStore{Store: s, limit: 2 << 20}
		return full
	}})
	data := randomBytes(partialBlobSize, 12)
	d := m.hub.PutBlob(data)
	name := "library/alpine"

	full.full.Store(true)
	during := m.get(blobPath(name, d), nil)
	switch {
	case during.status >= 500:
	case during.status == http.StatusOK:
		if during.readErr != nil {
			t.Errorf("client while the disk is full: body failed after %d bytes: %v; want the whole blob streamed from upstream, or a 5xx", len(during.body), during.readErr)
		}
		if got := sha256Digest(during.body); got != d {
			t.Errorf("client while the disk is full: body hashes to %s, want %s", got, d)
		}
	default:
		t.Errorf("client while the disk is full: status %d, want 200 with the whole blob or a 5xx", during.status)
	}
	if _, ok := m.storedBlob(d); ok {
		t.Errorf("blob was committed although the store failed while writing it")
	}
	if !strings.Contains(m.logs.String(), "level=ERROR") {
		t.Errorf("the failed store write was not logged at level ERROR")
	}

	full.full.Store(false)
	after := m.get(blobPath(name, d), nil)
	if after.status != http.StatusOK || sha256Digest(after.body) != d {
		t.Errorf("client after space was freed: status %d, body digest %s, want 200 with %s", after.status, sha256Digest(after.body), d)
	}
	if size, ok := m.storedBlob(d); !ok || size != partialBlobSize {
		t.Errorf("after space was freed the store holds the blob: %v with %d bytes, want it with %d", ok, size, partialBlobSize)
	}
}

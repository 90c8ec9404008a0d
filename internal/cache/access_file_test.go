package cache

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
	"time"
)

// TestStoredBlobExposesFile checks that a stored blob read from a
// filesystem store hands its *os.File to the server, positioned at the
// requested offset, so that net/http can send it with sendfile(2).
func TestStoredBlobExposesFile(t *testing.T) {
	f := newFixture(t, time.Minute)
	data := bytes.Repeat([]byte("pullcache"), 1000)
	d := f.up.putBlob(data)

	blob, err := f.cache.GetBlob(context.Background(), testUpstream, testRepo, d)
	if err != nil {
		t.Fatalf("first GetBlob: %v", err)
	}
	if _, err := readBlob(t, blob, 0); err != nil {
		t.Fatalf("read the fetched blob: %v", err)
	}
	blob.Close()

	blob, err = f.cache.GetBlob(context.Background(), testUpstream, testRepo, d)
	if err != nil || blob.Status != StatusHit {
		t.Fatalf("second GetBlob: %v, status %v; want HIT", err, blob)
	}
	defer blob.Close()
	body, err := blob.Open(context.Background(), 9)
	if err != nil {
		t.Fatalf("open stored blob: %v", err)
	}
	defer body.Close()

	stored, ok := body.(interface{ File() *os.File })
	if !ok {
		t.Fatalf("stored blob reader %T has no File method", body)
	}
	file := stored.File()
	if file == nil {
		t.Fatal("File() = nil for a filesystem store")
	}
	got, err := io.ReadAll(file)
	if err != nil {
		t.Fatalf("read the file: %v", err)
	}
	if !bytes.Equal(got, data[9:]) {
		t.Errorf("file read from offset 9 returned %d bytes that differ from the blob", len(got))
	}
}

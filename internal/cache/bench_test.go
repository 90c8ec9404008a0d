package cache

import (
	"context"
	"io"
	"testing"
	"time"
)

// BenchmarkManifestHit measures a warm tag pull: store read, no upstream.
func BenchmarkManifestHit(b *testing.B) {
	f := newFixture(b, time.Hour)
	f.up.putManifest(testRepo, "latest", mediaTypeOCI, manifestBody(1))
	if _, err := f.cache.GetManifest(context.Background(), testUpstream, testRepo, "latest"); err != nil {
		b.Fatal(err)
	}

	b.ReportAllocs()
	for b.Loop() {
		res, err := f.cache.GetManifest(context.Background(), testUpstream, testRepo, "latest")
		if err != nil || res.Status != StatusHit {
			b.Fatalf("status %s, err %v", res.Status, err)
		}
	}
}

// BenchmarkBlobMiss64MiB measures a cold 64 MiB blob: one upstream
// transfer into the spool file and the store, read by one client. Its
// allocated bytes per operation show that memory does not grow with the
// blob size.
func BenchmarkBlobMiss64MiB(b *testing.B) {
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(i)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()

	for b.Loop() {
		b.StopTimer()
		f := newFixture(b, time.Hour)
		d := f.up.putBlob(data)
		b.StartTimer()

		blob, err := f.cache.GetBlob(context.Background(), testUpstream, testRepo, d)
		if err != nil {
			b.Fatal(err)
		}
		r, err := blob.Open(context.Background(), 0)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		r.Close()
		blob.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatalf("read %d bytes, %v", n, err)
		}
	}
}

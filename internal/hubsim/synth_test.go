package hubsim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestSynthLayerSizes(t *testing.T) {
	sizes := []int64{
		MinSyntheticLayerSize,
		MinSyntheticLayerSize + 1,
		MinSyntheticLayerSize + 511,
		storedBlockMax*3 + 7,
		1<<20 + 123,
	}
	for _, size := range sizes {
		layer, err := newSynthLayer(size, 42)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}

		stream, err := io.ReadAll(io.NewSectionReader(layer, 0, layer.Size()))
		if err != nil {
			t.Fatalf("size %d: read: %v", size, err)
		}
		if int64(len(stream)) != size {
			t.Fatalf("size %d: stream has %d bytes", size, len(stream))
		}
		if digest.FromBytes(stream) != layer.digest {
			t.Errorf("size %d: digest differs from the stream", size)
		}

		zr, err := gzip.NewReader(bytes.NewReader(stream))
		if err != nil {
			t.Fatalf("size %d: gzip header: %v", size, err)
		}
		tarBytes, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("size %d: gunzip: %v", size, err)
		}
		if digest.FromBytes(tarBytes) != layer.diffID {
			t.Errorf("size %d: diff id differs from the tar", size)
		}

		tr := tar.NewReader(bytes.NewReader(tarBytes))
		header, err := tr.Next()
		if err != nil {
			t.Fatalf("size %d: tar: %v", size, err)
		}
		if header.Name != synthFileName || header.Size != layer.fileSize {
			t.Errorf("size %d: tar entry %s of %d bytes", size, header.Name, header.Size)
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			t.Fatalf("size %d: tar entry: %v", size, err)
		}
		if _, err := tr.Next(); err != io.EOF {
			t.Errorf("size %d: after the entry: %v, want EOF", size, err)
		}
	}
}

func TestSynthLayerReadAtMatchesStream(t *testing.T) {
	layer, err := newSynthLayer(storedBlockMax*4+999, 7)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := io.ReadAll(io.NewSectionReader(layer, 0, layer.Size()))
	if err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		off := rng.Int64N(layer.Size())
		buf := make([]byte, rng.IntN(100_000)+1)
		n, err := layer.ReadAt(buf, off)
		wantN := min(int64(len(buf)), layer.Size()-off)
		if int64(n) != wantN || (int64(n) < int64(len(buf)) && err != io.EOF) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want %d", len(buf), off, n, err, wantN)
		}
		if !bytes.Equal(buf[:n], stream[off:off+int64(n)]) {
			t.Fatalf("ReadAt(%d bytes, %d) differs from the stream", len(buf), off)
		}
	}
}

func TestSynthLayerTooSmall(t *testing.T) {
	if _, err := newSynthLayer(MinSyntheticLayerSize-1, 1); err == nil {
		t.Error("newSynthLayer below the minimum succeeded")
	}
}

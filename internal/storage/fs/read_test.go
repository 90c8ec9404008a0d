package fs

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/pullcache/pullcache/internal/storage"
)

func TestOpenAtOffset(t *testing.T) {
	store := newStore(t)
	put(t, store, "blobs/a", "0123456789")

	tests := []struct {
		offset int64
		want   string
	}{
		{0, "0123456789"},
		{4, "456789"},
		{10, ""},
	}
	for _, tt := range tests {
		r, info, err := store.Open(context.Background(), "blobs/a", tt.offset)
		if err != nil {
			t.Fatalf("Open at %d: %v", tt.offset, err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("read at %d: %v", tt.offset, err)
		}

		if string(data) != tt.want {
			t.Errorf("read at %d = %q, want %q", tt.offset, data, tt.want)
		}
		if info.Size != 10 {
			t.Errorf("Size at %d = %d, want 10", tt.offset, info.Size)
		}
	}
}

func TestOpenOffsetOutOfRange(t *testing.T) {
	store := newStore(t)
	put(t, store, "blobs/a", "0123456789")

	for _, offset := range []int64{11, -1} {
		r, _, err := store.Open(context.Background(), "blobs/a", offset)
		if err == nil {
			r.Close()
			t.Errorf("Open at %d succeeded", offset)
		}
	}
}

func TestOpenReaderAt(t *testing.T) {
	store := newStore(t)
	put(t, store, "blobs/a", "0123456789")

	r, _, err := store.Open(context.Background(), "blobs/a", 2)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()

	readerAt, ok := r.(io.ReaderAt)
	if !ok {
		t.Fatalf("reader %T is not an io.ReaderAt", r)
	}
	if _, ok := r.(io.Seeker); !ok {
		t.Errorf("reader %T is not an io.Seeker", r)
	}
	buf := make([]byte, 3)
	if _, err := readerAt.ReadAt(buf, 0); err != nil {
		t.Fatalf("ReadAt: %v", err)
	}
	if string(buf) != "012" {
		t.Errorf("ReadAt(0) = %q, want offsets from the start of the object", buf)
	}
}

func TestOpenMissingKey(t *testing.T) {
	store := newStore(t)
	put(t, store, "blobs/a", "x")

	for _, key := range []string{"blobs/missing", "blobs"} {
		_, _, err := store.Open(context.Background(), key, 0)
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Open(%q) error = %v, want ErrNotFound", key, err)
		}
	}
}

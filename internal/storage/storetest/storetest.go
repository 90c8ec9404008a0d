// Package storetest is the behaviour every storage.Store backend must show,
// as a test suite that each backend's tests run against a fresh store.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/storage"
)

// Options tunes the suite for a backend.
type Options struct {
	// LargeSize is the size of the object that the streaming tests write,
	// large enough to need several parts on a backend that uploads in
	// parts. 0 means 20 MiB.
	LargeSize int64
	// ModTimeSlack is how far an object's ModTime may lie from the time of
	// its write; S3 keeps whole seconds. 0 means 2 seconds.
	ModTimeSlack time.Duration
}

// Run runs the suite. newStore returns an empty store that lives as long as
// the test it was created for.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store, opts Options) {
	if opts.LargeSize == 0 {
		opts.LargeSize = 20 << 20
	}
	if opts.ModTimeSlack == 0 {
		opts.ModTimeSlack = 2 * time.Second
	}
	s := &suite{newStore: newStore, opts: opts}

	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"PutGetStat", s.testPutGetStat},
		{"EmptyObject", s.testEmptyObject},
		{"Missing", s.testMissing},
		{"InvalidKeys", s.testInvalidKeys},
		{"InvisibleUntilCommit", s.testInvisibleUntilCommit},
		{"AbortLeavesNothing", s.testAbortLeavesNothing},
		{"WriterLifecycle", s.testWriterLifecycle},
		{"CommitReplaces", s.testCommitReplaces},
		{"OpenOffsets", s.testOpenOffsets},
		{"LargeStreamed", s.testLargeStreamed},
		{"LargeAborted", s.testLargeAborted},
		{"Walk", s.testWalk},
		{"WalkStops", s.testWalkStops},
		{"Delete", s.testDelete},
		{"ConcurrentWriters", s.testConcurrentWriters},
		{"CanceledContext", s.testCanceledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	newStore func(t *testing.T) storage.Store
	opts     Options
}

func put(t *testing.T, store storage.Store, key, data string) {
	t.Helper()
	if err := storage.PutBytes(context.Background(), store, key, []byte(data)); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func get(t *testing.T, store storage.Store, key string) string {
	t.Helper()
	data, err := storage.GetBytes(context.Background(), store, key, 1<<20)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return string(data)
}

func wantNotFound(t *testing.T, store storage.Store, key string) {
	t.Helper()
	if _, err := store.Stat(context.Background(), key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat(%q) error = %v, want ErrNotFound", key, err)
	}
}

func (s *suite) testPutGetStat(t *testing.T) {
	store := s.newStore(t)
	ctx := context.Background()
	before := time.Now()
	put(t, store, "blobs/sha256/abc", "hello")
	after := time.Now()

	if got := get(t, store, "blobs/sha256/abc"); got != "hello" {
		t.Errorf("object = %q, want %q", got, "hello")
	}
	info, err := store.Stat(ctx, "blobs/sha256/abc")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Size != 5 {
		t.Errorf("Size = %d, want 5", info.Size)
	}
	if info.ModTime.Before(before.Add(-s.opts.ModTimeSlack)) || info.ModTime.After(after.Add(s.opts.ModTimeSlack)) {
		t.Errorf("ModTime = %s, want between %s and %s", info.ModTime, before, after)
	}

	r, openInfo, err := store.Open(ctx, "blobs/sha256/abc", 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	r.Close()
	if openInfo.Size != 5 || !openInfo.ModTime.Equal(info.ModTime) {
		t.Errorf("Open info = %+v, want the Stat info %+v", openInfo, info)
	}
}

func (s *suite) testEmptyObject(t *testing.T) {
	store := s.newStore(t)
	put(t, store, "repositories/up/repo/_digests/sha256-abc", "")

	info, err := store.Stat(context.Background(), "repositories/up/repo/_digests/sha256-abc")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Size != 0 {
		t.Errorf("Size = %d, want 0", info.Size)
	}
	if got := get(t, store, "repositories/up/repo/_digests/sha256-abc"); got != "" {
		t.Errorf("object = %q, want empty", got)
	}
}

func (s *suite) testMissing(t *testing.T) {
	store := s.newStore(t)
	ctx := context.Background()
	put(t, store, "a/b", "x")

	// "a" is a prefix of a stored key, not an object.
	for _, key := range []string{"a/missing", "missing", "a/b/c", "a"} {
		wantNotFound(t, store, key)
		if _, _, err := store.Open(ctx, key, 0); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Open(%q) error = %v, want ErrNotFound", key, err)
		}
		if err := store.Delete(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Delete(%q) error = %v, want ErrNotFound", key, err)
		}
	}
}

func (s *suite) testInvalidKeys(t *testing.T) {
	store := s.newStore(t)
	ctx := context.Background()

	for _, key := range []string{"", "/a", "a/../b", "../a", "a//b", "a/", "a/./b", "a b", "a\\b", "a\x00b", "a?b"} {
		if _, err := store.Stat(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, _, err := store.Open(ctx, key, 0); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Open(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if w, err := store.Create(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Create(%q) error = %v, want ErrInvalidKey", key, err)
			if w != nil {
				w.Abort()
			}
		}
		if err := store.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, prefix := range []string{"/a", "../", "a//", "a b"} {
		err := store.Walk(ctx, prefix, func(string, storage.Info) error { return nil })
		if !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Walk(%q) error = %v, want ErrInvalidKey", prefix, err)
		}
	}
}

func (s *suite) testInvisibleUntilCommit(t *testing.T) {
	store := s.newStore(t)
	ctx := context.Background()

	w, err := store.Create(ctx, "blobs/sha256/new")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Fatalf("Write: %v", err)
	}

	wantNotFound(t, store, "blobs/sha256/new")
	if keys := walkKeys(t, store, ""); len(keys) != 0 {
		t.Errorf("Walk before Commit lists %v, want nothing", keys)
	}

	if err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got := get(t, store, "blobs/sha256/new"); got != "partial" {
		t.Errorf("object = %q, want %q", got, "partial")
	}
}

func (s *suite) testAbortLeavesNothing(t *testing.T) {
	store := s.newStore(t)
	ctx := context.Background()

	w, err := store.Create(ctx, "blobs/sha256/gone")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}

	wantNotFound(t, store, "blobs/sha256/gone")
	if keys := walkKeys(t, store, ""); len(keys) != 0 {
		t.Errorf("Walk after Abort lists %v, want nothing", keys)
	}
}

func (s *suite) testWriterLifecycle(t *testing.T) {
	store := s.newStore(t)
	ctx := context.Background()

	w, err := store.Create(ctx, "a/committed")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	w.Write([]byte("x"))
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v, want nil", err)
	}
	if _, err := w.Write([]byte("y")); err == nil {
		t.Error("Write after Commit succeeded, want an error")
	}
	if err := w.Commit(ctx); err == nil {
		t.Error("second Commit succeeded, want an error")
	}
	if got := get(t, store, "a/committed"); got != "x" {
		t.Errorf("object = %q after Abort following Commit, want %q", got, "x")
	}

	w, err = store.Create(ctx, "a/aborted")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort: %v, want nil", err)
	}
	if err := w.Commit(ctx); err == nil {
		t.Error("Commit after Abort succeeded, want an error")
	}
	wantNotFound(t, store, "a/aborted")
}

func (s *suite) testCommitReplaces(t *testing.T) {
	store := s.newStore(t)
	ctx := context.Background()
	put(t, store, "repositories/up/repo/_tags/latest", "old")

	w, err := store.Create(ctx, "repositories/up/repo/_tags/latest")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer w.Abort()
	w.Write([]byte("new record"))
	if got := get(t, store, "repositories/up/repo/_tags/latest"); got != "old" {
		t.Errorf("object before Commit = %q, want %q", got, "old")
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got := get(t, store, "repositories/up/repo/_tags/latest"); got != "new record" {
		t.Errorf("object after Commit = %q, want %q", got, "new record")
	}
}

func (s *suite) testOpenOffsets(t *testing.T) {
	store := s.newStore(t)
	ctx := context.Background()
	put(t, store, "blobs/x", "0123456789")

	for _, offset := range []int64{0, 1, 9, 10} {
		r, info, err := store.Open(ctx, "blobs/x", offset)
		if err != nil {
			t.Errorf("Open at %d: %v", offset, err)
			continue
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Errorf("read at %d: %v", offset, err)
		}
		if want := "0123456789"[offset:]; string(data) != want {
			t.Errorf("read at %d = %q, want %q", offset, data, want)
		}
		if info.Size != 10 {
			t.Errorf("Open at %d: Size = %d, want the object's size 10", offset, info.Size)
		}
	}
	for _, offset := range []int64{11, -1} {
		if r, _, err := store.Open(ctx, "blobs/x", offset); err == nil {
			r.Close()
			t.Errorf("Open at %d succeeded, want an error", offset)
		}
	}
}

// patternReader yields size pseudo-random bytes from a seed, so a large
// object needs no memory on either side of the test.
func patternReader(seed byte, size int64) io.Reader {
	var key [32]byte
	key[0] = seed
	return io.LimitReader(rand.NewChaCha8(key), size)
}

func hashOf(t *testing.T, r io.Reader) ([32]byte, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, n
}

// writeStreamed copies src into a new writer in 32 KiB writes, as the cache
// does with an upstream body.
func writeStreamed(t *testing.T, store storage.Store, key string, src io.Reader) storage.Writer {
	t.Helper()
	w, err := store.Create(context.Background(), key)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := io.CopyBuffer(struct{ io.Writer }{w}, src, make([]byte, 32<<10)); err != nil {
		w.Abort()
		t.Fatalf("Write: %v", err)
	}
	return w
}

func (s *suite) testLargeStreamed(t *testing.T) {
	store := s.newStore(t)
	ctx := context.Background()
	size := s.opts.LargeSize

	w := writeStreamed(t, store, "blobs/sha256/large", patternReader(1, size))
	defer w.Abort()
	wantNotFound(t, store, "blobs/sha256/large")
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}

	want, _ := hashOf(t, patternReader(1, size))
	r, info, err := store.Open(ctx, "blobs/sha256/large", 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	got, n := hashOf(t, r)
	r.Close()
	if n != size || info.Size != size || got != want {
		t.Errorf("read %d bytes (Info.Size %d), sha256 match %t; want %d bytes and a match", n, info.Size, got == want, size)
	}

	// A read from inside the object, as a Range request or a resumed
	// download makes.
	offset := size - size/3
	r, _, err = store.Open(ctx, "blobs/sha256/large", offset)
	if err != nil {
		t.Fatalf("Open at %d: %v", offset, err)
	}
	defer r.Close()
	tailWant := make([]byte, 4096)
	src := patternReader(1, size)
	io.CopyN(io.Discard, src, offset)
	io.ReadFull(src, tailWant)
	tailGot := make([]byte, 4096)
	if _, err := io.ReadFull(r, tailGot); err != nil {
		t.Fatalf("read at %d: %v", offset, err)
	}
	if !bytes.Equal(tailGot, tailWant) {
		t.Errorf("bytes at offset %d differ from what was written", offset)
	}
}

func (s *suite) testLargeAborted(t *testing.T) {
	store := s.newStore(t)

	w := writeStreamed(t, store, "blobs/sha256/large-aborted", patternReader(2, s.opts.LargeSize))
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	wantNotFound(t, store, "blobs/sha256/large-aborted")
	if keys := walkKeys(t, store, ""); len(keys) != 0 {
		t.Errorf("Walk after Abort lists %v, want nothing", keys)
	}
}

func walkKeys(t *testing.T, store storage.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := store.Walk(context.Background(), prefix, func(key string, info storage.Info) error {
		keys = append(keys, fmt.Sprintf("%s=%d", key, info.Size))
		return nil
	})
	if err != nil {
		t.Fatalf("Walk(%q): %v", prefix, err)
	}
	sort.Strings(keys)
	return keys
}

func (s *suite) testWalk(t *testing.T) {
	store := s.newStore(t)
	put(t, store, "repositories/docker.io/library/alpine/_tags/3.20", "a")
	put(t, store, "repositories/docker.io/library/alpine/_tags/latest", "bb")
	put(t, store, "repositories/docker.io/librarian/x/_tags/1", "ccc")
	put(t, store, "repositories/ghcr.io/owner/app/_tags/v1", "dddd")
	put(t, store, "blobs/sha256/abc", "eeeee")

	cases := []struct {
		prefix string
		want   []string
	}{
		{"repositories/docker.io/library/", []string{
			"repositories/docker.io/library/alpine/_tags/3.20=1",
			"repositories/docker.io/library/alpine/_tags/latest=2",
		}},
		{"repositories/docker.io/libr", []string{
			"repositories/docker.io/librarian/x/_tags/1=3",
			"repositories/docker.io/library/alpine/_tags/3.20=1",
			"repositories/docker.io/library/alpine/_tags/latest=2",
		}},
		{"repositories/docker.io/library/alpine/_tags/latest", []string{
			"repositories/docker.io/library/alpine/_tags/latest=2",
		}},
		{"blobs/", []string{"blobs/sha256/abc=5"}},
		{"manifests/", nil},
		{"", []string{
			"blobs/sha256/abc=5",
			"repositories/docker.io/librarian/x/_tags/1=3",
			"repositories/docker.io/library/alpine/_tags/3.20=1",
			"repositories/docker.io/library/alpine/_tags/latest=2",
			"repositories/ghcr.io/owner/app/_tags/v1=4",
		}},
	}
	for _, tc := range cases {
		got := walkKeys(t, store, tc.prefix)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Walk(%q) = %v, want %v", tc.prefix, got, tc.want)
		}
	}
}

func (s *suite) testWalkStops(t *testing.T) {
	store := s.newStore(t)
	put(t, store, "a/1", "x")
	put(t, store, "a/2", "y")

	stop := errors.New("stop")
	calls := 0
	err := store.Walk(context.Background(), "a/", func(string, storage.Info) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("Walk error = %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("callback ran %d times after returning an error, want 1", calls)
	}
}

func (s *suite) testDelete(t *testing.T) {
	store := s.newStore(t)
	ctx := context.Background()
	put(t, store, "repositories/up/a/_tags/latest", "x")
	put(t, store, "repositories/up/b/_tags/latest", "y")

	if err := store.Delete(ctx, "repositories/up/a/_tags/latest"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, store, "repositories/up/a/_tags/latest")
	if err := store.Delete(ctx, "repositories/up/a/_tags/latest"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second Delete error = %v, want ErrNotFound", err)
	}
	if got := get(t, store, "repositories/up/b/_tags/latest"); got != "y" {
		t.Errorf("sibling = %q, want %q", got, "y")
	}
	if keys := walkKeys(t, store, "repositories/"); fmt.Sprint(keys) != "[repositories/up/b/_tags/latest=1]" {
		t.Errorf("Walk after Delete = %v", keys)
	}

	// A deleted key can be written again.
	put(t, store, "repositories/up/a/_tags/latest", "z")
	if got := get(t, store, "repositories/up/a/_tags/latest"); got != "z" {
		t.Errorf("rewritten object = %q, want %q", got, "z")
	}
}

// testConcurrentWriters commits several writes of one key at once, as
// replicas fetching the same blob do: the result is one whole write.
func (s *suite) testConcurrentWriters(t *testing.T) {
	store := s.newStore(t)
	ctx := context.Background()
	const writers = 8
	contents := make([]string, writers)
	for i := range contents {
		contents[i] = string(bytes.Repeat([]byte{byte('a' + i)}, 64<<10))
	}

	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			errs[i] = storage.PutBytes(ctx, store, "blobs/sha256/contended", []byte(contents[i]))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}

	got := get(t, store, "blobs/sha256/contended")
	for _, want := range contents {
		if got == want {
			return
		}
	}
	t.Errorf("object of %d bytes is none of the writes whole", len(got))
}

func (s *suite) testCanceledContext(t *testing.T) {
	store := s.newStore(t)
	put(t, store, "a/b", "x")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if _, err := store.Stat(ctx, "a/b"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat error = %v, want context.Canceled", err)
	}
	if w, err := store.Create(ctx, "a/c"); err == nil {
		w.Abort()
		t.Error("Create with a canceled context succeeded")
	}

	w, err := store.Create(context.Background(), "a/d")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer w.Abort()
	w.Write([]byte("x"))
	if err := w.Commit(ctx); err == nil {
		t.Error("Commit with a canceled context succeeded")
	}
	wantNotFound(t, store, "a/d")
}

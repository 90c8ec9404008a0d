package evict

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pullcache/pullcache/internal/storage"
)

// AccessRecordKey is the key of the object that keeps last-read times
// between runs. One small object replaces a write per read.
const AccessRecordKey = "access/last-read.json"

// maxAccessRecordSize bounds the access record that Load reads: about
// 100 bytes per stored object, for a few million objects.
const maxAccessRecordSize = 512 << 20

// errUnreadableRecord marks an access record that does not decode.
var errUnreadableRecord = errors.New("unreadable access record")

// tracker keeps the last read time of stored objects in memory, and how
// many clients are reading each one. It implements cache.AccessRecorder.
type tracker struct {
	now func() time.Time

	mu       sync.Mutex
	lastRead map[string]time.Time
	holds    map[string]int
	dirty    bool
	// added counts the bytes committed since the last eviction run.
	added int64
}

func newTracker(now func() time.Time) *tracker {
	return &tracker{now: now, lastRead: make(map[string]time.Time), holds: make(map[string]int)}
}

// Touched records a read of key now.
func (t *tracker) Touched(key string) {
	now := t.now()
	t.mu.Lock()
	t.lastRead[key] = now
	t.dirty = true
	t.mu.Unlock()
}

// Stored records a commit: a new object counts as read now.
func (t *tracker) Stored(key string, size int64) {
	now := t.now()
	t.mu.Lock()
	t.lastRead[key] = now
	t.dirty = true
	t.added += size
	t.mu.Unlock()
}

// Hold marks key as being read until release is called.
func (t *tracker) Hold(key string) (release func()) {
	t.mu.Lock()
	t.holds[key]++
	t.mu.Unlock()

	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			if t.holds[key]--; t.holds[key] <= 0 {
				delete(t.holds, key)
			}
			t.mu.Unlock()
		})
	}
}

// held reports whether a client is reading key.
func (t *tracker) held(key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.holds[key] > 0
}

// readAt returns the last recorded read of key, if any.
func (t *tracker) readAt(key string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.lastRead[key]
	return at, ok
}

// forget drops a removed object.
func (t *tracker) forget(key string) {
	t.mu.Lock()
	delete(t.lastRead, key)
	t.dirty = true
	t.mu.Unlock()
}

// takeAdded returns the bytes committed since the last call and resets the
// count.
func (t *tracker) takeAdded() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	added := t.added
	t.added = 0
	return added
}

// pendingAdded returns the bytes committed since the last takeAdded.
func (t *tracker) pendingAdded() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.added
}

// load reads the access record, keeping any newer time already in memory.
// A missing record is not an error.
func (t *tracker) load(ctx context.Context, store storage.Store) error {
	data, err := storage.GetBytes(ctx, store, AccessRecordKey, maxAccessRecordSize)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read access record: %w", err)
	}
	var record map[string]int64
	if err := json.Unmarshal(data, &record); err != nil {
		return fmt.Errorf("%w %s: %w", errUnreadableRecord, AccessRecordKey, err)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	for key, unix := range record {
		at := time.Unix(unix, 0)
		if at.After(t.lastRead[key]) {
			t.lastRead[key] = at
		}
	}
	return nil
}

// flush writes the access record when a read was recorded since the last
// flush. It first merges the stored record, so that the reads another
// process sharing the store recorded are kept. Times are kept to the
// second.
//
// NOTE: two processes that flush at the same moment can lose each other's
// latest reads. That changes only the eviction order, never what is safe to
// remove.
func (t *tracker) flush(ctx context.Context, store storage.Store) error {
	t.mu.Lock()
	dirty := t.dirty
	t.mu.Unlock()
	if !dirty {
		return nil
	}
	// An unreadable record is replaced by this process's times.
	if err := t.load(ctx, store); err != nil && !errors.Is(err, errUnreadableRecord) {
		return err
	}

	t.mu.Lock()
	if !t.dirty {
		t.mu.Unlock()
		return nil
	}
	record := make(map[string]int64, len(t.lastRead))
	for key, at := range t.lastRead {
		record[key] = at.Unix()
	}
	t.dirty = false
	t.mu.Unlock()

	data, err := json.Marshal(record)
	if err != nil {
		return fmt.Errorf("encode access record: %w", err)
	}
	if err := storage.PutBytes(ctx, store, AccessRecordKey, data); err != nil {
		t.mu.Lock()
		t.dirty = true
		t.mu.Unlock()
		return fmt.Errorf("write access record: %w", err)
	}
	return nil
}

package evict

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/storage"
)

// evict removes content until the store's size is at most target. Blobs
// that no stored manifest names go first, least recently used first. Then
// the least recently used manifest goes, with every record that names it
// and the blobs that only it named. Objects in use or younger than the
// grace period stay.
func (e *Evictor) evict(ctx context.Context, inv *inventory, target int64) (Result, error) {
	res := Result{SizeBefore: inv.total, SizeAfter: inv.total}
	now := e.now()

	refs := make(map[digest.Digest]int)
	for _, m := range inv.manifests {
		for _, b := range m.blobs {
			refs[b]++
		}
	}
	var loose []*object
	for d, b := range inv.blobs {
		if refs[d] == 0 {
			loose = append(loose, b)
		}
	}
	sortByLastUsed(loose)
	manifests := make([]*manifestObject, 0, len(inv.manifests))
	for _, m := range inv.manifests {
		manifests = append(manifests, m)
	}
	slices.SortFunc(manifests, func(a, b *manifestObject) int {
		return compareObjects(&a.object, &b.object)
	})

	for res.SizeAfter > target {
		if err := ctx.Err(); err != nil {
			return res, err
		}

		var blob *object
		blob, loose = e.nextRemovable(loose, now)
		if blob != nil {
			if err := e.remove(ctx, blob.key); err != nil {
				return res, err
			}
			res.SizeAfter -= blob.size
			res.Blobs++
			continue
		}

		var m *manifestObject
		m, manifests = e.nextManifest(manifests, now)
		if m == nil {
			res.Blocked = true
			return res, nil
		}
		freed, records, err := e.removeManifest(ctx, m)
		res.SizeAfter -= freed
		res.Records += records
		if err != nil {
			return res, err
		}
		res.Manifests++

		// The blobs only this manifest named go with it, even past the
		// target: without a manifest they only take room.
		for _, d := range m.blobs {
			if refs[d]--; refs[d] != 0 || inv.blobs[d] == nil {
				continue
			}
			blob := inv.blobs[d]
			if e.protected(blob, now) {
				loose = append(loose, blob)
				continue
			}
			if err := e.remove(ctx, blob.key); err != nil {
				return res, err
			}
			res.SizeAfter -= blob.size
			res.Blobs++
		}
		sortByLastUsed(loose)
	}
	return res, nil
}

// protected reports whether an object must stay: a client is reading it,
// or it was committed less than the grace period ago.
func (e *Evictor) protected(o *object, now time.Time) bool {
	return now.Sub(o.modTime) < e.grace || e.tracker.held(o.key)
}

// nextRemovable returns the first object of a sorted list that may be
// removed, and the list without it and without the protected objects
// before it, which stay protected for the rest of the run.
func (e *Evictor) nextRemovable(list []*object, now time.Time) (*object, []*object) {
	for i, o := range list {
		if !e.protected(o, now) {
			return o, list[i+1:]
		}
	}
	return nil, nil
}

func (e *Evictor) nextManifest(list []*manifestObject, now time.Time) (*manifestObject, []*manifestObject) {
	for i, m := range list {
		if !e.protected(&m.object, now) {
			return m, list[i+1:]
		}
	}
	return nil, nil
}

// removeManifest removes the records that name the manifest before the
// manifest itself, so that a tag never points at a removed manifest for
// longer than the removal takes. It returns the bytes freed and the number
// of records removed.
func (e *Evictor) removeManifest(ctx context.Context, m *manifestObject) (freed int64, records int, err error) {
	for _, rec := range m.records {
		if err := e.remove(ctx, rec.key); err != nil {
			return freed, records, err
		}
		freed += rec.size
		records++
	}
	if err := e.remove(ctx, m.key); err != nil {
		return freed, records, err
	}
	freed += m.size
	e.log.Debug("evicted manifest", slog.String("digest", m.digest.String()), slog.Int("records", len(m.records)),
		slog.Time("last_used", m.lastUsed))
	return freed, records, nil
}

// remove deletes one object. One that is already gone counts as removed.
func (e *Evictor) remove(ctx context.Context, key string) error {
	if err := deleteObject(ctx, e.store, key); err != nil {
		return err
	}
	e.tracker.forget(key)
	return nil
}

func deleteObject(ctx context.Context, store storage.Store, key string) error {
	err := store.Delete(ctx, key)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("remove %s: %w", key, err)
	}
	return nil
}

// sortByLastUsed orders objects from the least recently used, breaking
// ties by key so that runs are repeatable.
func sortByLastUsed(list []*object) {
	slices.SortFunc(list, compareObjects)
}

func compareObjects(a, b *object) int {
	if c := a.lastUsed.Compare(b.lastUsed); c != 0 {
		return c
	}
	return strings.Compare(a.key, b.key)
}

// retain drops read times of blobs and manifests that are no longer
// stored, so the access record does not grow forever.
func (t *tracker) retain(inv *inventory) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key := range t.lastRead {
		var stored bool
		switch {
		case strings.HasPrefix(key, cache.BlobsPrefix):
			d, ok := digestOfKey(key, cache.BlobsPrefix)
			stored = ok && inv.blobs[d] != nil
		case strings.HasPrefix(key, cache.ManifestsPrefix):
			d, ok := digestOfKey(key, cache.ManifestsPrefix)
			stored = ok && inv.manifests[d] != nil
		default:
			stored = true
		}
		if !stored {
			delete(t.lastRead, key)
			t.dirty = true
		}
	}
}

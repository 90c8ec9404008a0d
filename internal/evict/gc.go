package evict

import (
	"context"
	"log/slog"
	"time"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/storage"
)

// LeftoverRemover is implemented by stores that keep files of interrupted
// writes outside their keys, such as the filesystem store's temporary
// directory. Leftovers lists (and, unless dryRun, removes) those last
// modified before olderThan, by their path in the store.
type LeftoverRemover interface {
	Leftovers(ctx context.Context, olderThan time.Time, dryRun bool) (paths []string, size int64, err error)
}

// GCOptions configures CollectGarbage.
type GCOptions struct {
	// Grace protects objects committed less than this long ago.
	Grace time.Duration
	// DryRun reports what would be removed and removes nothing.
	DryRun bool
	// MaxManifestSize is the configured manifest size limit; default 4 MiB.
	MaxManifestSize int64
	Logger          *slog.Logger // nil discards logs
	Clock           func() time.Time
}

// GCResult counts the objects CollectGarbage removed, or would remove in a
// dry run.
type GCResult struct {
	// Blobs are blobs that no stored manifest names.
	Blobs     int
	BlobBytes int64
	// Records are tag and _digests records whose manifest is not stored,
	// and tag records that do not decode.
	Records     int
	RecordBytes int64
	// Leftovers are files of interrupted writes.
	Leftovers     int
	LeftoverBytes int64
	// Keys lists the objects removed, blobs first.
	Keys []string
	// LeftoverPaths lists the leftover files removed, by their path in the
	// store.
	LeftoverPaths []string
	// Undecodable lists every tag record that does not decode, removed or
	// kept for the grace period.
	Undecodable []string
}

// Freed returns the bytes removed.
func (r GCResult) Freed() int64 { return r.BlobBytes + r.RecordBytes + r.LeftoverBytes }

// CollectGarbage removes the blobs that no stored manifest names, the tag
// and _digests records whose manifest is not stored, and leftovers of
// interrupted writes, when each is older than the grace period. The caller
// makes sure that no other process evicts at the same time (the
// filesystem store's lock, or the Gate that eviction uses).
func CollectGarbage(ctx context.Context, store storage.Store, o GCOptions) (GCResult, error) {
	if o.MaxManifestSize <= 0 {
		o.MaxManifestSize = 4 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	now := o.Clock()
	var res GCResult

	inv, err := takeInventory(ctx, store, cache.MaxRecordSize(o.MaxManifestSize), newTracker(o.Clock), nil)
	if err != nil {
		return res, err
	}
	for _, key := range inv.undecodable {
		o.Logger.Warn("tag record does not decode; gc removes it as garbage once older than cache.gc_grace", slog.String("key", key))
	}
	res.Undecodable = inv.undecodable

	named := make(map[string]bool)
	for _, m := range inv.manifests {
		for _, b := range m.blobs {
			named[cache.BlobKey(b)] = true
		}
	}

	remove := func(obj *object) (bool, error) {
		if now.Sub(obj.modTime) < o.Grace {
			return false, nil
		}
		if !o.DryRun {
			if err := deleteObject(ctx, store, obj.key); err != nil {
				return false, err
			}
		}
		o.Logger.Debug("garbage", slog.String("key", obj.key), slog.Int64("size", obj.size), slog.Bool("dry_run", o.DryRun))
		res.Keys = append(res.Keys, obj.key)
		return true, nil
	}

	for _, blob := range sortedBlobs(inv) {
		if named[blob.key] {
			continue
		}
		removed, err := remove(blob)
		if err != nil {
			return res, err
		}
		if removed {
			res.Blobs++
			res.BlobBytes += blob.size
		}
	}
	for i := range inv.dangling {
		rec := &inv.dangling[i]
		removed, err := remove(rec)
		if err != nil {
			return res, err
		}
		if removed {
			res.Records++
			res.RecordBytes += rec.size
		}
	}

	if lr, ok := store.(LeftoverRemover); ok {
		paths, size, err := lr.Leftovers(ctx, now.Add(-o.Grace), o.DryRun)
		if err != nil {
			return res, err
		}
		res.Leftovers, res.LeftoverBytes, res.LeftoverPaths = len(paths), size, paths
	}
	return res, nil
}

// sortedBlobs returns the inventory's blobs from the least recently used.
func sortedBlobs(inv *inventory) []*object {
	list := make([]*object, 0, len(inv.blobs))
	for _, b := range inv.blobs {
		list = append(list, b)
	}
	sortByLastUsed(list)
	return list
}

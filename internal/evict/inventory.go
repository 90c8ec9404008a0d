package evict

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/storage"
)

// object is one stored object with the times that eviction orders by.
type object struct {
	key     string
	size    int64
	modTime time.Time
	// lastUsed is the last recorded read, or modTime when none is recorded.
	lastUsed time.Time
}

// manifestObject is a stored manifest record and what it refers to.
type manifestObject struct {
	object
	digest digest.Digest
	// blobs are the config, layers and other blobs the manifest names.
	blobs []digest.Digest
	// records are the tag, _digests and _referrers records that name this
	// manifest in any repository. They go when the manifest goes.
	records []object
}

// inventory is the content of a store at one moment.
type inventory struct {
	blobs     map[digest.Digest]*object
	manifests map[digest.Digest]*manifestObject
	// dangling are tag and _digests records whose manifest is not stored,
	// and tag records that do not decode.
	dangling []object
	// undecodable are the keys of tag records that do not decode.
	undecodable []string
	total       int64
}

// takeInventory lists every object of the store, reads each manifest
// record for the blobs it names, and each tag record for its manifest.
// Manifests are content addressed, so the blobs each one names never
// change: known holds them from earlier runs (digest → blobs), and only new
// manifests are read. A nil known reads them all.
func takeInventory(ctx context.Context, store storage.Store, maxRecordSize int64, t *tracker, known map[digest.Digest][]digest.Digest) (*inventory, error) {
	inv := &inventory{
		blobs:     make(map[digest.Digest]*object),
		manifests: make(map[digest.Digest]*manifestObject),
	}
	var repoRecords []object

	err := store.Walk(ctx, "", func(key string, info storage.Info) error {
		inv.total += info.Size
		obj := object{key: key, size: info.Size, modTime: info.ModTime, lastUsed: info.ModTime}
		if at, ok := t.readAt(key); ok && at.After(obj.lastUsed) {
			obj.lastUsed = at
		}

		switch {
		case strings.HasPrefix(key, cache.BlobsPrefix):
			if d, ok := digestOfKey(key, cache.BlobsPrefix); ok {
				inv.blobs[d] = &obj
			}
		case strings.HasPrefix(key, cache.ManifestsPrefix):
			if d, ok := digestOfKey(key, cache.ManifestsPrefix); ok {
				inv.manifests[d] = &manifestObject{object: obj, digest: d}
			}
		case strings.HasPrefix(key, cache.RepositoriesPrefix):
			repoRecords = append(repoRecords, obj)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list store: %w", err)
	}

	for d, m := range inv.manifests {
		if blobs, ok := known[d]; ok {
			m.blobs = blobs
			continue
		}
		blobs, err := readManifestBlobs(ctx, store, m.key, maxRecordSize)
		if errors.Is(err, storage.ErrNotFound) {
			continue // removed since the walk
		}
		if err != nil {
			return nil, err
		}
		m.blobs = blobs
	}
	if known != nil {
		clear(known)
		for d, m := range inv.manifests {
			known[d] = m.blobs
		}
	}

	for _, rec := range repoRecords {
		d, err := recordTarget(ctx, store, rec.key)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if errors.Is(err, errUndecodableTag) {
			// A tag record that names no manifest keeps nothing alive and
			// serves no client: it is garbage like a dangling one.
			inv.undecodable = append(inv.undecodable, rec.key)
			inv.dangling = append(inv.dangling, rec)
			continue
		}
		if err != nil {
			return nil, err
		}
		if d == "" {
			continue
		}
		if m, ok := inv.manifests[d]; ok {
			m.records = append(m.records, rec)
		} else if kind, _ := cache.ParseRepositoryKey(rec.key); kind != cache.RecordReferrers {
			// Referrers of a subject that is not stored are still valid:
			// clients may ask for them by digest.
			inv.dangling = append(inv.dangling, rec)
		}
	}
	return inv, nil
}

// digestOfKey parses "<prefix><alg>/<hex>".
func digestOfKey(key, prefix string) (digest.Digest, bool) {
	alg, hex, ok := strings.Cut(strings.TrimPrefix(key, prefix), "/")
	if !ok {
		return "", false
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(alg), hex)
	return d, d.Validate() == nil
}

// recordTarget returns the manifest a repository record names, or "" for
// keys that name none.
func recordTarget(ctx context.Context, store storage.Store, key string) (digest.Digest, error) {
	kind, d := cache.ParseRepositoryKey(key)
	switch kind {
	case cache.RecordDigest, cache.RecordReferrers:
		return d, nil
	case cache.RecordTag:
		data, err := storage.GetBytes(ctx, store, key, maxTagRecordSize)
		if err != nil {
			return "", err
		}
		d, err := cache.DecodeTagRecord(data)
		if err != nil {
			return "", fmt.Errorf("%w %s: %w", errUndecodableTag, key, err)
		}
		return d, nil
	}
	return "", nil
}

// errUndecodableTag marks a tag record that is not valid JSON or names no
// valid digest.
var errUndecodableTag = errors.New("undecodable tag record")

// maxTagRecordSize bounds a tag record: a digest, a media type and a time.
const maxTagRecordSize = 64 << 10

// manifestRefs is the part of any OCI or Docker manifest that names blobs.
type manifestRefs struct {
	Config *struct {
		Digest digest.Digest `json:"digest"`
	} `json:"config"`
	Layers []struct {
		Digest digest.Digest `json:"digest"`
	} `json:"layers"`
	// Blobs is the OCI artifact manifest's list, kept for stores that hold
	// one from before image-spec 1.1 dropped it.
	Blobs []struct {
		Digest digest.Digest `json:"digest"`
	} `json:"blobs"`
	// FSLayers is Docker schema 1.
	FSLayers []struct {
		BlobSum digest.Digest `json:"blobSum"`
	} `json:"fsLayers"`
}

// readManifestBlobs returns the blobs a stored manifest record names. An
// index names manifests, not blobs, so it returns none. A record that does
// not decode names none either: it keeps no blob from eviction.
func readManifestBlobs(ctx context.Context, store storage.Store, key string, maxRecordSize int64) ([]digest.Digest, error) {
	data, err := storage.GetBytes(ctx, store, key, maxRecordSize)
	if err != nil {
		return nil, err
	}
	_, body, err := cache.DecodeManifestRecord(data)
	if err != nil {
		return nil, nil
	}
	var refs manifestRefs
	if err := json.Unmarshal(body, &refs); err != nil {
		return nil, nil
	}

	var blobs []digest.Digest
	if refs.Config != nil && refs.Config.Digest != "" {
		blobs = append(blobs, refs.Config.Digest)
	}
	for _, l := range refs.Layers {
		blobs = append(blobs, l.Digest)
	}
	for _, b := range refs.Blobs {
		blobs = append(blobs, b.Digest)
	}
	for _, l := range refs.FSLayers {
		blobs = append(blobs, l.BlobSum)
	}
	return blobs, nil
}

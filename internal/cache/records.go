package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/storage"
)

// manifestRecord is a stored manifest: its bytes and the media type the
// upstream served it with, which is what clients get as Content-Type.
type manifestRecord struct {
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Body      []byte        `json:"body"`
	// notStored marks a manifest served from upstream that the store could
	// not take; clients get it as BYPASS.
	notStored bool
}

// tagRecord points a tag at a stored manifest. CheckedAt is when upstream
// last confirmed (or first served) that digest for the tag.
type tagRecord struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	CheckedAt time.Time     `json:"checkedAt"`
}

// referrersRecord is a stored referrers response (an OCI image index).
type referrersRecord struct {
	MediaType string    `json:"mediaType"`
	Body      []byte    `json:"body"`
	CheckedAt time.Time `json:"checkedAt"`
}

// recordOverhead is the room a JSON record needs beyond its payload. A
// manifest record's body is base64, which grows it by 4/3.
const recordOverhead = 4096

func (c *Cache) readJSON(ctx context.Context, key string, limit int64, v any) error {
	data, err := storage.GetBytes(ctx, c.store, key, limit)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode stored record %s: %w", key, err)
	}
	return nil
}

func (c *Cache) writeJSON(ctx context.Context, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record %s: %w", key, err)
	}
	if err := storage.PutBytes(ctx, c.store, key, data); err != nil {
		return fmt.Errorf("store record %s: %w", key, err)
	}
	return nil
}

func (c *Cache) loadManifest(ctx context.Context, d digest.Digest) (manifestRecord, error) {
	var rec manifestRecord
	err := c.readJSON(ctx, manifestKey(d), c.maxManifestSize*4/3+recordOverhead, &rec)
	if err != nil {
		return rec, err
	}
	if rec.Digest != d || d.Algorithm().FromBytes(rec.Body) != d {
		return rec, fmt.Errorf("stored manifest %s does not match its digest", d)
	}
	c.access.Touched(manifestKey(d))
	return rec, nil
}

func (c *Cache) loadTag(ctx context.Context, upstreamName, repo, tag string) (tagRecord, bool, error) {
	var rec tagRecord
	err := c.readJSON(ctx, tagKey(upstreamName, repo, tag), recordOverhead, &rec)
	if errors.Is(err, storage.ErrNotFound) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	return rec, true, nil
}

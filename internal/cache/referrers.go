package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/upstream"
)

// Referrers is a referrers response: an OCI image index.
type Referrers struct {
	Body []byte
	// Filtered is true when the artifactType filter was applied.
	Filtered bool
	Status   Status
}

// GetReferrers returns the referrers of subject, fetched and stored like a
// tag: served from the store within the upstream's tag TTL, else asked
// again, and served stale when upstream fails. An upstream without the
// referrers API (404) yields an empty index, as the OCI distribution spec
// asks of registries that support the endpoint. The full list is stored
// once per subject and the artifactType filter is applied here.
func (c *Cache) GetReferrers(ctx context.Context, upstreamName, repo string, subject digest.Digest, artifactType string) (Referrers, error) {
	remote, err := c.remote(upstreamName)
	if err != nil {
		return Referrers{}, err
	}
	key := referrersKey(upstreamName, repo, subject)

	var stored referrersRecord
	err = c.readJSON(ctx, key, c.maxManifestSize*4/3+recordOverhead, &stored)
	found := err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return Referrers{}, err
	}
	if found && c.now().Sub(stored.CheckedAt) < remote.TagTTL {
		return filterReferrers(stored.Body, artifactType, StatusHit)
	}

	m, err := remote.Client.GetReferrers(ctx, repo, subject, "")
	c.recordUpstreamResult(upstreamName, err)
	var upErr *upstream.Error
	switch {
	case err == nil:
	case errors.As(err, &upErr) && upErr.Kind == upstream.KindNotFound:
		m = upstream.Manifest{Body: emptyIndex()}
	case found:
		c.logStale(ctx, upstreamName, repo, "referrers of "+subject.String(), err)
		return filterReferrers(stored.Body, artifactType, StatusStale)
	default:
		return Referrers{}, err
	}

	rec := referrersRecord{MediaType: v1.MediaTypeImageIndex, Body: m.Body, CheckedAt: c.now()}
	if err := c.writeJSON(ctx, key, rec); err != nil {
		c.writes.failed(ctx, "referrers", key, err)
	}
	return filterReferrers(m.Body, artifactType, StatusMiss)
}

// filterReferrers keeps the descriptors whose artifactType matches.
func filterReferrers(body []byte, artifactType string, status Status) (Referrers, error) {
	if artifactType == "" {
		return Referrers{Body: body, Status: status}, nil
	}
	var index v1.Index
	if err := json.Unmarshal(body, &index); err != nil {
		return Referrers{}, fmt.Errorf("decode referrers index: %w", err)
	}
	kept := []v1.Descriptor{}
	for _, desc := range index.Manifests {
		if desc.ArtifactType == artifactType {
			kept = append(kept, desc)
		}
	}
	index.Manifests = kept
	filtered, err := json.Marshal(index)
	if err != nil {
		return Referrers{}, fmt.Errorf("encode referrers index: %w", err)
	}
	return Referrers{Body: filtered, Filtered: true, Status: status}, nil
}

func emptyIndex() []byte {
	body, _ := json.Marshal(v1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageIndex,
		Manifests: []v1.Descriptor{},
	})
	return body
}

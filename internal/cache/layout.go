package cache

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// The store layout, exported for the evictor and gc, which work on the
// store directly. keys.go describes it.
const (
	BlobsPrefix        = blobsPrefix
	ManifestsPrefix    = manifestsPrefix
	RepositoriesPrefix = repositoriesPrefix
)

// BlobKey returns the key of a blob.
func BlobKey(d digest.Digest) string { return blobKey(d) }

// ManifestKey returns the key of a manifest record.
func ManifestKey(d digest.Digest) string { return manifestKey(d) }

// RecordKind is the kind of a key under repositories/.
type RecordKind int

const (
	RecordOther     RecordKind = iota
	RecordTag                  // _tags/<tag>: points a tag at a manifest
	RecordDigest               // _digests/<alg>-<hex>: the repository holds the manifest
	RecordReferrers            // _referrers/<alg>-<hex>: the referrers of a subject manifest
)

// ParseRepositoryKey returns the kind of a key under repositories/ and,
// for _digests and _referrers records, the manifest digest in its name. A
// tag's digest is in the record itself: see DecodeTagRecord.
func ParseRepositoryKey(key string) (RecordKind, digest.Digest) {
	if _, _, ok := repositoryFromKey(key); !ok {
		return RecordOther, ""
	}
	for _, kind := range []struct {
		marker string
		kind   RecordKind
	}{{"/_tags/", RecordTag}, {"/_digests/", RecordDigest}, {"/_referrers/", RecordReferrers}} {
		i := strings.LastIndex(key, kind.marker)
		if i < 0 {
			continue
		}
		name := key[i+len(kind.marker):]
		if kind.kind == RecordTag {
			return RecordTag, ""
		}
		alg, hex, found := strings.Cut(name, "-")
		d := digest.NewDigestFromEncoded(digest.Algorithm(alg), hex)
		if !found || d.Validate() != nil {
			return RecordOther, ""
		}
		return kind.kind, d
	}
	return RecordOther, ""
}

// DecodeManifestRecord returns the digest and body of a stored manifest
// record.
func DecodeManifestRecord(data []byte) (digest.Digest, []byte, error) {
	var rec manifestRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return "", nil, fmt.Errorf("decode manifest record: %w", err)
	}
	return rec.Digest, rec.Body, nil
}

// DecodeTagRecord returns the manifest digest a stored tag record points at.
func DecodeTagRecord(data []byte) (digest.Digest, error) {
	var rec tagRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return "", fmt.Errorf("decode tag record: %w", err)
	}
	return rec.Digest, nil
}

// MaxRecordSize bounds the stored records the evictor reads, for a
// manifest size limit of maxManifestSize bytes.
func MaxRecordSize(maxManifestSize int64) int64 {
	return maxManifestSize*4/3 + recordOverhead
}

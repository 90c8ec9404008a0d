package cache

import (
	"encoding/json"
	"mime"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest media types the cache tells apart.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// detectMediaType returns the media type a manifest is served with: the
// upstream's Content-Type when it names a specific type, else the body's
// mediaType field, else the type the body's shape implies (an OCI manifest or
// index may omit mediaType).
func detectMediaType(contentType string, body []byte) string {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && mt != "application/json" && mt != "text/plain" && mt != "application/octet-stream" {
		return mt
	}

	var probe struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
		Layers    []json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return contentType
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.Manifests != nil:
		return v1.MediaTypeImageIndex
	default:
		return v1.MediaTypeImageManifest
	}
}

// IsIndex reports whether a media type is an index or manifest list, which
// a client gets only when its Accept names the type.
func IsIndex(mediaType string) bool {
	return mediaType == v1.MediaTypeImageIndex || mediaType == MediaTypeDockerManifestList
}

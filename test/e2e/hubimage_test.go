package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// putHubImage stores a linux/amd64 Docker schema 2 image with one layer
// holding files in the hub as repo:tag, and returns its manifest digest.
// The layer is a real gzip'd tar and the config lists its diff id, so
// containerd can unpack it.
func putHubImage(t *testing.T, hub *testHub, repo, tag string, files map[string]string) digest.Digest {
	t.Helper()
	uncompressed := tarOf(t, files)
	var compressed bytes.Buffer
	gz := gzip.NewWriter(&compressed)
	if _, err := gz.Write(uncompressed); err != nil {
		t.Fatalf("compress layer: %v", err)
	}
	if err := gz.Close(); err != nil {
		t.Fatalf("compress layer: %v", err)
	}

	config, err := json.Marshal(v1.Image{
		Platform: v1.Platform{OS: "linux", Architecture: "amd64"},
		RootFS:   v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(uncompressed)}},
	})
	if err != nil {
		t.Fatalf("encode config: %v", err)
	}
	manifest, err := json.Marshal(v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: hubsim.MediaTypeDockerManifest,
		Config:    v1.Descriptor{MediaType: hubsim.MediaTypeDockerConfig, Digest: hub.PutBlob(config), Size: int64(len(config))},
		Layers: []v1.Descriptor{{
			MediaType: hubsim.MediaTypeDockerLayer,
			Digest:    hub.PutBlob(compressed.Bytes()),
			Size:      int64(compressed.Len()),
		}},
	})
	if err != nil {
		t.Fatalf("encode manifest: %v", err)
	}
	return hub.PutManifest(repo, tag, hubsim.MediaTypeDockerManifest, manifest)
}

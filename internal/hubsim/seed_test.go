package hubsim_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// pullImage fetches an image's manifest, config and layer as a client
// would, and checks every digest, size and the config's diff ids.
func pullImage(t *testing.T, client *http.Client, hub *hubsim.Hub, token string, img hubsim.Image) v1.Image {
	t.Helper()
	resp := mustSend(t, client, http.MethodGet, manifestURL(hub, img.Repo, img.Digest.String()), token, acceptAll())
	if resp.StatusCode != http.StatusOK || digest.FromBytes(resp.body) != img.Digest || int64(len(resp.body)) != img.Size {
		t.Fatalf("manifest %s: status %d, %d bytes", img.Digest, resp.StatusCode, len(resp.body))
	}
	var manifest v1.Manifest
	if err := json.Unmarshal(resp.body, &manifest); err != nil {
		t.Fatalf("decode manifest: %v", err)
	}
	if manifest.MediaType != img.MediaType || manifest.SchemaVersion != 2 {
		t.Errorf("manifest mediaType %q, schemaVersion %d", manifest.MediaType, manifest.SchemaVersion)
	}

	configBody := fetchBlob(t, client, hub, token, img.Repo, manifest.Config)
	var config v1.Image
	if err := json.Unmarshal(configBody, &config); err != nil {
		t.Fatalf("decode config: %v", err)
	}
	if config.OS != img.Platform.OS || config.Architecture != img.Platform.Architecture {
		t.Errorf("config platform %s/%s, want %s/%s", config.OS, config.Architecture, img.Platform.OS, img.Platform.Architecture)
	}
	if len(config.RootFS.DiffIDs) != len(manifest.Layers) {
		t.Fatalf("config has %d diff ids for %d layers", len(config.RootFS.DiffIDs), len(manifest.Layers))
	}

	for i, layer := range manifest.Layers {
		compressed := fetchBlob(t, client, hub, token, img.Repo, layer)
		zr, err := gzip.NewReader(bytes.NewReader(compressed))
		if err != nil {
			t.Fatalf("layer %s: gzip: %v", layer.Digest, err)
		}
		tarBytes, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("layer %s: gunzip: %v", layer.Digest, err)
		}
		if got := digest.FromBytes(tarBytes); got != config.RootFS.DiffIDs[i] {
			t.Errorf("layer %s: diff id %s, config says %s", layer.Digest, got, config.RootFS.DiffIDs[i])
		}

		tr := tar.NewReader(bytes.NewReader(tarBytes))
		entries := 0
		for {
			_, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: tar: %v", layer.Digest, err)
			}
			if _, err := io.Copy(io.Discard, tr); err != nil {
				t.Fatalf("layer %s: tar entry: %v", layer.Digest, err)
			}
			entries++
		}
		if entries == 0 {
			t.Errorf("layer %s has no tar entries", layer.Digest)
		}
	}
	return config
}

func fetchBlob(t *testing.T, client *http.Client, hub *hubsim.Hub, token, repo string, desc v1.Descriptor) []byte {
	t.Helper()
	resp := mustSend(t, client, http.MethodGet, blobURL(hub, repo, desc.Digest.String()), token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("blob %s: status %d", desc.Digest, resp.StatusCode)
	}
	if int64(len(resp.body)) != desc.Size || digest.FromBytes(resp.body) != desc.Digest {
		t.Fatalf("blob %s: %d bytes with digest %s, want %d bytes", desc.Digest, len(resp.body), digest.FromBytes(resp.body), desc.Size)
	}
	return resp.body
}

func TestSeedStandardContent(t *testing.T) {
	hub := hubsim.New(hubsim.Options{Logf: t.Logf})
	const bigSize = 3<<20 + 12345
	std := hub.SeedStandard(bigSize)
	if err := hub.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.MultiArchRepo, hubsim.ManifestListRepo, hubsim.BigRepo, hubsim.MovingRepo, hubsim.AlpineRepo)

	indexes := []struct {
		index     hubsim.Index
		mediaType string
		child     string
	}{
		{std.MultiArch, v1.MediaTypeImageIndex, v1.MediaTypeImageManifest},
		{std.ManifestList, hubsim.MediaTypeDockerManifestList, hubsim.MediaTypeDockerManifest},
	}
	for _, tt := range indexes {
		resp := mustSend(t, client, http.MethodGet, manifestURL(hub, tt.index.Repo, tt.index.Tag), token, acceptAll())
		if got := resp.Header.Get("Content-Type"); got != tt.mediaType {
			t.Errorf("%s: Content-Type %q, want %q", tt.index.Repo, got, tt.mediaType)
		}
		var index v1.Index
		if err := json.Unmarshal(resp.body, &index); err != nil {
			t.Fatalf("%s: decode index: %v", tt.index.Repo, err)
		}
		if len(index.Manifests) != 2 || index.Manifests[0].Platform.Architecture != "amd64" || index.Manifests[1].Platform.Architecture != "arm64" {
			t.Fatalf("%s: index manifests %+v, want amd64 and arm64", tt.index.Repo, index.Manifests)
		}
		for i, child := range tt.index.Images {
			if index.Manifests[i].Digest != child.Digest || index.Manifests[i].MediaType != tt.child {
				t.Errorf("%s: child %d is %s %s, want %s %s", tt.index.Repo, i, index.Manifests[i].MediaType, index.Manifests[i].Digest, tt.child, child.Digest)
			}
			pullImage(t, client, hub, token, child)
		}
	}

	for _, img := range []hubsim.Image{std.Big, std.Moving, std.MovingNext, std.Alpine} {
		pullImage(t, client, hub, token, img)
	}
	if std.Big.Layers[0].Size != bigSize || std.Big.MediaType != hubsim.MediaTypeDockerManifest {
		t.Errorf("big layer: %d bytes, manifest %s; want %d bytes, Docker schema 2", std.Big.Layers[0].Size, std.Big.MediaType, bigSize)
	}
}

func TestSeedStandardIsDeterministic(t *testing.T) {
	first := hubsim.New(hubsim.Options{}).SeedStandard(100_000)
	second := hubsim.New(hubsim.Options{}).SeedStandard(100_000)

	pairs := map[string][2]digest.Digest{
		"multiarch":    {first.MultiArch.Digest, second.MultiArch.Digest},
		"manifestlist": {first.ManifestList.Digest, second.ManifestList.Digest},
		"big":          {first.Big.Digest, second.Big.Digest},
		"big layer":    {first.Big.Layers[0].Digest, second.Big.Layers[0].Digest},
		"alpine":       {first.Alpine.Digest, second.Alpine.Digest},
		"moving":       {first.Moving.Digest, second.Moving.Digest},
	}
	for name, pair := range pairs {
		if pair[0] != pair[1] {
			t.Errorf("%s: %s then %s", name, pair[0], pair[1])
		}
	}
	if first.Moving.Digest == first.MovingNext.Digest {
		t.Error("Moving and MovingNext are the same image")
	}
}

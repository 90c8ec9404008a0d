package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// putSmallImage stores a one-layer Docker schema 2 image in hub and
// returns its manifest digest and layer digest. seed makes the content
// differ between images.
func putSmallImage(t *testing.T, hub *hubsim.Hub, repo, tag string, seed uint64) (manifest, layer digest.Digest) {
	t.Helper()
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layerBytes := randomBytes(4096, seed)
	body, err := json.Marshal(v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: hubsim.MediaTypeDockerManifest,
		Config:    v1.Descriptor{MediaType: hubsim.MediaTypeDockerConfig, Digest: hub.PutBlob(config), Size: int64(len(config))},
		Layers:    []v1.Descriptor{{MediaType: hubsim.MediaTypeDockerLayer, Digest: hub.PutBlob(layerBytes), Size: int64(len(layerBytes))}},
	})
	if err != nil {
		t.Fatalf("encode manifest: %v", err)
	}
	return hub.PutManifest(repo, tag, hubsim.MediaTypeDockerManifest, body), sha256Digest(layerBytes)
}

// hubPathRequests counts the hub's requests whose path starts with prefix.
func hubPathRequests(hub *hubsim.Hub, prefix string) int {
	total := 0
	for key, n := range hub.Stats().Requests {
		_, path, _ := strings.Cut(key, " ")
		if strings.HasPrefix(path, prefix) {
			total += n
		}
	}
	return total
}

func TestLibraryPrefix(t *testing.T) {
	// A second registry that is not Docker Hub, with a repository named
	// just "alpine", which must not become library/alpine.
	other := hubsim.New(hubsim.Options{})
	if err := other.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start second hubsim: %v", err)
	}
	t.Cleanup(other.Close)
	otherDigest, _ := putSmallImage(t, other, "alpine", "3.20", 8)

	m := newMirror(t, mirrorConfig{extra: []extraUpstream{{name: "other.test", url: other.URL()}}})
	img := m.std.Alpine

	short := m.get(manifestPath("alpine", "3.20"), acceptAll())
	if short.status != http.StatusOK {
		t.Fatalf("GET alpine:3.20: status %d (body %q), want 200", short.status, short.body)
	}
	if got := short.header.Get("Docker-Content-Digest"); got != img.Digest.String() {
		t.Errorf("GET alpine:3.20: Docker-Content-Digest %q, want library/alpine's %s", got, img.Digest)
	}
	if got := hubPathRequests(m.hub, "/v2/alpine/"); got != 0 {
		t.Errorf("hub received %d requests for the literal name alpine; a one-component Docker Hub name must become library/alpine first", got)
	}

	hubBefore := hubRequests(m.hub)
	long := m.get(manifestPath("library/alpine", "3.20"), acceptAll())
	if long.status != http.StatusOK {
		t.Errorf("GET library/alpine:3.20: status %d, want 200", long.status)
	}
	if got := long.header.Get("Docker-Content-Digest"); got != img.Digest.String() {
		t.Errorf("GET library/alpine:3.20: Docker-Content-Digest %q, want %s", got, img.Digest)
	}
	if got := long.header.Get("X-Cache-Status"); got != "HIT" {
		t.Errorf("GET library/alpine:3.20 after alpine:3.20: X-Cache-Status %q, want HIT from the shared entry", got)
	}

	byDigest := m.get(manifestPath("alpine", img.Digest.String()), acceptAll())
	if byDigest.status != http.StatusOK || sha256Digest(byDigest.body) != img.Digest {
		t.Errorf("GET alpine@%s: status %d, body digest %s, want 200 with the manifest", img.Digest, byDigest.status, sha256Digest(byDigest.body))
	}
	if got := hubRequests(m.hub) - hubBefore; got != 0 {
		t.Errorf("hub received %d requests for the second spelling and the digest, want 0", got)
	}

	layer := img.Layers[0].Digest
	blob := m.get(blobPath("alpine", layer), nil)
	if blob.status != http.StatusOK || sha256Digest(blob.body) != layer {
		t.Errorf("GET alpine blob %s: status %d, want 200 with the blob", layer, blob.status)
	}
	if got := m.hub.Stats().Requests["GET "+blobPath("library/alpine", layer)]; got != 1 {
		t.Errorf("hub received %d GETs of the blob under library/alpine, want 1", got)
	}
	hubBefore = hubRequests(m.hub)
	if again := m.get(blobPath("library/alpine", layer), nil); again.status != http.StatusOK {
		t.Errorf("GET library/alpine blob %s: status %d, want 200", layer, again.status)
	}
	if got := hubRequests(m.hub) - hubBefore; got != 0 {
		t.Errorf("hub received %d requests for a stored blob, want 0", got)
	}

	otherTag := m.get(manifestPath("alpine", "3.20")+"?ns=other.test", acceptAll())
	if otherTag.status != http.StatusOK {
		t.Errorf("GET alpine:3.20?ns=other.test: status %d (body %q), want 200", otherTag.status, otherTag.body)
	}
	if got := otherTag.header.Get("Docker-Content-Digest"); got != otherDigest.String() {
		t.Errorf("GET alpine:3.20?ns=other.test: Docker-Content-Digest %q, want the other registry's %s", got, otherDigest)
	}
	if got := otherTag.header.Get("OCI-Namespace"); got != "other.test" {
		t.Errorf("GET ?ns=other.test: OCI-Namespace %q, want other.test", got)
	}
	if got := other.Stats().ManifestGetsByRepo["alpine"]; got != 1 {
		t.Errorf("other registry received %d manifest GETs for alpine, want 1: no library/ prefix outside Docker Hub", got)
	}
	byPath := m.get(manifestPath("other.test/alpine", "3.20"), acceptAll())
	if got := byPath.header.Get("Docker-Content-Digest"); got != otherDigest.String() {
		t.Errorf("GET other.test/alpine:3.20: Docker-Content-Digest %q, want %s", got, otherDigest)
	}
	if got := byPath.header.Get("X-Cache-Status"); got != "HIT" {
		t.Errorf("GET other.test/alpine:3.20 after ?ns=other.test: X-Cache-Status %q, want HIT", got)
	}

	hubBefore = hubRequests(m.hub)
	hubNS := m.get(manifestPath("alpine", "3.20")+"?ns=docker.io", acceptAll())
	if got := hubNS.header.Get("Docker-Content-Digest"); got != img.Digest.String() {
		t.Errorf("GET alpine:3.20?ns=docker.io: Docker-Content-Digest %q, want %s, not the other registry's", got, img.Digest)
	}
	if got := hubNS.header.Get("OCI-Namespace"); got != "docker.io" {
		t.Errorf("GET ?ns=docker.io: OCI-Namespace %q, want docker.io", got)
	}
	if got := hubRequests(m.hub) - hubBefore; got != 0 {
		t.Errorf("hub received %d requests for ?ns=docker.io after the same tag was stored, want 0", got)
	}

	catalog := m.get("/v2/_catalog", nil)
	var repos struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(catalog.body, &repos); err != nil {
		t.Fatalf("decode catalog %q: %v", catalog.body, err)
	}
	for _, want := range []string{"library/alpine", "other.test/alpine"} {
		if !slices.Contains(repos.Repositories, want) {
			t.Errorf("catalog %v lacks %s: each upstream's repository is stored separately", repos.Repositories, want)
		}
	}
}

func TestLibraryPrefixDeniedName(t *testing.T) {
	m := newMirror(t, mirrorConfig{})

	// Docker Hub's token service grants nothing for a repository that does
	// not exist, and the registry then responds 401 insufficient_scope.
	paths := []string{
		manifestPath("openjdk", "17"),
		manifestPath("openjdk", m.std.Alpine.Digest.String()),
		manifestPath("someone/missing", "latest"),
		blobPath("openjdk", m.std.Alpine.Layers[0].Digest),
	}
	for _, path := range paths {
		r := m.get(path, acceptAll())
		if r.status >= 500 {
			t.Errorf("GET %s: status %d, want an OCI client error: an upstream denial is not a server failure", path, r.status)
			continue
		}
		code, _ := ociError(t, r)
		if !slices.Contains([]string{"NAME_UNKNOWN", "DENIED", "UNAUTHORIZED"}, code) {
			t.Errorf("GET %s: status %d code %q, want NAME_UNKNOWN (denied or missing)", path, r.status, code)
		}

		head := m.head(path, acceptAll())
		if head.status >= 500 {
			t.Errorf("HEAD %s: status %d, want a client error", path, head.status)
		}
	}
}

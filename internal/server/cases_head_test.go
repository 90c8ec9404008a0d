package server_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// manifestHeaders are the headers a client resolving a tag with HEAD needs.
type manifestHeaders struct {
	contentType   string
	digest        string
	contentLength string
}

func manifestHeadersOf(r response) manifestHeaders {
	return manifestHeaders{
		contentType:   r.header.Get("Content-Type"),
		digest:        r.header.Get("Docker-Content-Digest"),
		contentLength: r.header.Get("Content-Length"),
	}
}

func expectManifestHeaders(t *testing.T, what string, r response, img hubsim.Image) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Errorf("%s: status %d, want 200", what, r.status)
	}
	got := manifestHeadersOf(r)
	if got.contentType != img.MediaType {
		t.Errorf("%s: Content-Type %q, want %q", what, got.contentType, img.MediaType)
	}
	if got.digest != img.Digest.String() {
		t.Errorf("%s: Docker-Content-Digest %q, want %s", what, got.digest, img.Digest)
	}
	if want := strconv.FormatInt(img.Size, 10); got.contentLength != want {
		t.Errorf("%s: Content-Length %q, want %s, the manifest's length", what, got.contentLength, want)
	}
}

func TestHeadManifestHeaders(t *testing.T) {
	variants := []struct {
		name   string
		quirks hubsim.Quirks
	}{
		{"upstream HEAD complete", hubsim.Quirks{}},
		// Some proxies in front of registries drop Content-Type and
		// Docker-Content-Digest from manifest HEAD responses.
		{"upstream HEAD without digest and type", hubsim.Quirks{ManifestHeadWithoutDigest: true}},
	}
	for _, variant := range variants {
		t.Run(variant.name, func(t *testing.T) {
			m := newMirror(t, mirrorConfig{})
			m.hub.SetQuirks(variant.quirks)
			img := m.std.Alpine
			name := "library/alpine"
			tagPath := manifestPath(name, img.Tag)

			getsBefore := m.hub.Stats().ManifestGets
			cold := m.head(tagPath, acceptAll())
			expectManifestHeaders(t, "cold HEAD of the tag", cold, img)
			if variant.quirks.ManifestHeadWithoutDigest {
				if got := m.hub.Stats().ManifestGets - getsBefore; got != 1 {
					t.Errorf("cold HEAD with an incomplete upstream HEAD made %d upstream GETs, want exactly 1", got)
				}
			}

			byDigest := m.get(manifestPath(name, img.Digest.String()), acceptAll())
			expectManifestHeaders(t, "GET by digest", byDigest, img)
			if got := sha256Digest(byDigest.body); got != img.Digest {
				t.Errorf("GET by digest: body hashes to %s, want %s", got, img.Digest)
			}
			reference := manifestHeadersOf(byDigest)

			getsBefore = m.hub.Stats().ManifestGets
			warm := m.head(tagPath, acceptAll())
			expectManifestHeaders(t, "warm HEAD of the tag", warm, img)
			if got := manifestHeadersOf(warm); got != reference {
				t.Errorf("warm HEAD of the tag: headers %+v differ from the GET's %+v", got, reference)
			}
			if got := manifestHeadersOf(cold); got != reference {
				t.Errorf("cold HEAD of the tag: headers %+v differ from the GET's %+v", got, reference)
			}

			digestHead := m.head(manifestPath(name, img.Digest.String()), acceptAll())
			expectManifestHeaders(t, "HEAD by digest", digestHead, img)
			if got := manifestHeadersOf(digestHead); got != reference {
				t.Errorf("HEAD by digest: headers %+v differ from the GET's %+v", got, reference)
			}
			if got := m.hub.Stats().ManifestGets - getsBefore; got != 0 {
				t.Errorf("warm HEADs made %d upstream manifest GETs, want 0", got)
			}

			layer := img.Layers[0]
			blobHead := m.head(blobPath(name, layer.Digest), nil)
			if blobHead.status != http.StatusOK {
				t.Errorf("HEAD blob: status %d, want 200", blobHead.status)
			}
			if blobHead.contentLength != layer.Size {
				t.Errorf("HEAD blob: Content-Length %d, want the blob size %d", blobHead.contentLength, layer.Size)
			}
			if got := blobHead.header.Get("Docker-Content-Digest"); got != layer.Digest.String() {
				t.Errorf("HEAD blob: Docker-Content-Digest %q, want %s", got, layer.Digest)
			}

			missing := m.head(manifestPath(name, "does-not-exist"), acceptAll())
			if missing.status != http.StatusNotFound {
				t.Errorf("HEAD of a tag upstream does not have: status %d, want 404", missing.status)
			}
		})
	}
}

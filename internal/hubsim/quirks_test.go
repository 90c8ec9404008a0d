package hubsim_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
)

func TestQuirkManifestHeadWithoutDigest(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	hub.SetQuirks(hubsim.Quirks{ManifestHeadWithoutDigest: true})

	head := mustSend(t, client, http.MethodHead, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())
	get := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())

	if got := head.Header.Get("Docker-Content-Digest"); got != "" {
		t.Errorf("HEAD Docker-Content-Digest = %q, want none", got)
	}
	if got := head.Header.Get("Content-Type"); got != "" {
		t.Errorf("HEAD Content-Type = %q, want none", got)
	}
	if got := get.Header.Get("Docker-Content-Digest"); got != std.Alpine.Digest.String() {
		t.Errorf("GET Docker-Content-Digest = %q, want %s", got, std.Alpine.Digest)
	}
	if got := get.Header.Get("Content-Type"); got != hubsim.MediaTypeDockerManifest {
		t.Errorf("GET Content-Type = %q", got)
	}
}

func TestQuirkManifestWithoutDigest(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	hub.SetQuirks(hubsim.Quirks{ManifestWithoutDigest: true})
	etag := `"` + std.Alpine.Digest.String() + `"`

	for _, method := range []string{http.MethodGet, http.MethodHead} {
		resp := mustSend(t, client, method, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())
		if got := resp.Header.Get("Docker-Content-Digest"); got != "" {
			t.Errorf("%s Docker-Content-Digest = %q, want none", method, got)
		}
		if got := resp.Header.Get("Etag"); got != etag {
			t.Errorf("%s ETag = %q, want %s", method, got, etag)
		}
		if got := resp.Header.Get("Content-Type"); got != hubsim.MediaTypeDockerManifest {
			t.Errorf("%s Content-Type = %q", method, got)
		}
	}

	header := acceptAll()
	header.Set("If-None-Match", etag)
	if resp := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, header); resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET: status = %d, want 304", resp.StatusCode)
	}
}

func TestQuirkGzipBlobs(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	hub.SetQuirks(hubsim.Quirks{GzipBlobs: true})
	config := std.Alpine.Config
	target := blobURL(hub, hubsim.AlpineRepo, config.Digest.String())

	encoded := mustSend(t, client, http.MethodGet, target, token, http.Header{"Accept-Encoding": {"gzip"}})
	if got := encoded.Header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", got)
	}
	if digest.FromBytes(encoded.body) == config.Digest {
		t.Error("gzip-encoded body hashes to the blob digest; want the encoded bytes")
	}
	zr, err := gzip.NewReader(bytes.NewReader(encoded.body))
	if err != nil {
		t.Fatalf("gzip reader: %v", err)
	}
	decoded, err := io.ReadAll(zr)
	if err != nil || digest.FromBytes(decoded) != config.Digest {
		t.Errorf("decoded body: err %v, digest %s; want %s", err, digest.FromBytes(decoded), config.Digest)
	}

	tests := []struct {
		name   string
		header http.Header
	}{
		{"identity", http.Header{"Accept-Encoding": {"identity"}}},
		{"gzip refused", http.Header{"Accept-Encoding": {"gzip;q=0"}}},
		{"range", http.Header{"Accept-Encoding": {"gzip"}, "Range": {"bytes=0-9"}}},
	}
	for _, tt := range tests {
		resp := mustSend(t, client, http.MethodGet, target, token, tt.header)
		if got := resp.Header.Get("Content-Encoding"); got != "" {
			t.Errorf("%s: Content-Encoding = %q, want none", tt.name, got)
		}
	}
}

func TestQuirkRelativeRedirect(t *testing.T) {
	for _, cdnAddr := range []string{"", "127.0.0.2:0"} {
		t.Run("cdn="+cdnAddr, func(t *testing.T) {
			hub, std := startHub(t, hubsim.Options{CDNAddr: cdnAddr})
			client := newClient(t)
			token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
			hub.SetQuirks(hubsim.Quirks{RelativeRedirect: true})
			layer := std.Alpine.Layers[0]

			redirect := mustSend(t, client, http.MethodGet, blobURL(hub, hubsim.AlpineRepo, layer.Digest.String()), token, nil)
			if redirect.StatusCode != http.StatusTemporaryRedirect {
				t.Fatalf("status = %d, want 307", redirect.StatusCode)
			}
			location := redirect.Header.Get("Location")
			if !strings.HasPrefix(location, "/downloads/") {
				t.Fatalf("Location = %q, want a relative path", location)
			}

			resolved, err := redirect.Request.URL.Parse(location)
			if err != nil {
				t.Fatalf("resolve %q: %v", location, err)
			}
			resp := mustSend(t, client, http.MethodGet, resolved.String(), "", nil)
			if resp.StatusCode != http.StatusOK || digest.FromBytes(resp.body) != layer.Digest {
				t.Errorf("GET %s: status %d, digest %s", resolved, resp.StatusCode, digest.FromBytes(resp.body))
			}
		})
	}
}

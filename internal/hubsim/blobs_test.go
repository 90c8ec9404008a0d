package hubsim_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
)

func TestBlobHeadAndGet(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.BigRepo)
	layer := std.Big.Layers[0]

	head := mustSend(t, client, http.MethodHead, blobURL(hub, hubsim.BigRepo, layer.Digest.String()), token, nil)
	if head.StatusCode != http.StatusOK {
		t.Fatalf("HEAD status = %d", head.StatusCode)
	}
	if got := head.Header.Get("Content-Length"); got != strconv.FormatInt(layer.Size, 10) {
		t.Errorf("HEAD Content-Length = %s, want %d", got, layer.Size)
	}
	if got := head.Header.Get("Docker-Content-Digest"); got != layer.Digest.String() {
		t.Errorf("HEAD Docker-Content-Digest = %s", got)
	}

	get := mustSend(t, client, http.MethodGet, blobURL(hub, hubsim.BigRepo, layer.Digest.String()), token, nil)
	if get.StatusCode != http.StatusOK {
		t.Fatalf("GET status = %d", get.StatusCode)
	}
	if got := digest.FromBytes(get.body); got != layer.Digest {
		t.Errorf("GET body digest = %s, want %s", got, layer.Digest)
	}

	unknown := mustSend(t, client, http.MethodGet, blobURL(hub, hubsim.BigRepo, digest.FromString("none").String()), token, nil)
	if unknown.StatusCode != http.StatusNotFound || errorCode(t, unknown.body) != "BLOB_UNKNOWN" {
		t.Errorf("unknown blob: status %d, code %q; want 404 BLOB_UNKNOWN", unknown.StatusCode, errorCode(t, unknown.body))
	}
	if hub.PullsBy("127.0.0.1") != 0 {
		t.Errorf("pulls = %d, want 0 for blobs", hub.PullsBy("127.0.0.1"))
	}
}

func TestBlobRange(t *testing.T) {
	for _, cdn := range []bool{false, true} {
		t.Run("cdn="+strconv.FormatBool(cdn), func(t *testing.T) {
			opts := hubsim.Options{}
			if cdn {
				opts.CDNAddr = "127.0.0.2:0"
			}
			hub, std := startHub(t, opts)
			client := newClient(t)
			client.CheckRedirect = nil // follow the redirect; the token stays behind on the other host
			token := fetchToken(t, client, hub, "", "", hubsim.BigRepo)

			layer := std.Big.Layers[0]
			full := mustSend(t, client, http.MethodGet, blobURL(hub, hubsim.BigRepo, layer.Digest.String()), token, nil).body
			size := layer.Size

			tests := []struct {
				header       string
				status       int
				contentRange string
				start, end   int64
			}{
				{"bytes=0-99", 206, "bytes 0-99/" + itoa(size), 0, 99},
				{"bytes=100-", 206, "bytes 100-" + itoa(size-1) + "/" + itoa(size), 100, size - 1},
				{"bytes=-10", 206, "bytes " + itoa(size-10) + "-" + itoa(size-1) + "/" + itoa(size), size - 10, size - 1},
				{"bytes=0-" + itoa(size+50), 206, "bytes 0-" + itoa(size-1) + "/" + itoa(size), 0, size - 1},
				{"bytes=" + itoa(size) + "-", 416, "bytes */" + itoa(size), 0, -1},
				{"bytes=0-1,5-6", 200, "", 0, size - 1},
			}
			for _, tt := range tests {
				resp := mustSend(t, client, http.MethodGet, blobURL(hub, hubsim.BigRepo, layer.Digest.String()), token, http.Header{"Range": {tt.header}})
				if resp.StatusCode != tt.status {
					t.Errorf("%s: status = %d, want %d", tt.header, resp.StatusCode, tt.status)
					continue
				}
				if got := resp.Header.Get("Content-Range"); got != tt.contentRange {
					t.Errorf("%s: Content-Range = %q, want %q", tt.header, got, tt.contentRange)
				}
				if tt.end >= 0 && string(resp.body) != string(full[tt.start:tt.end+1]) {
					t.Errorf("%s: body of %d bytes differs from bytes %d-%d of the blob", tt.header, len(resp.body), tt.start, tt.end)
				}
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestCDNRedirect(t *testing.T) {
	clock := newFakeClock()
	hub, std := startHub(t, hubsim.Options{CDNAddr: "127.0.0.2:0", Clock: clock.Now, TokenTTL: time.Hour})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	layer := std.Alpine.Layers[0]

	redirect := mustSend(t, client, http.MethodGet, blobURL(hub, hubsim.AlpineRepo, layer.Digest.String()), token, nil)
	if redirect.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("status = %d, want 307", redirect.StatusCode)
	}
	location := redirect.Header.Get("Location")
	if !strings.HasPrefix(location, hub.CDNURL()+"/blobs/"+layer.Digest.String()+"?") || !strings.HasPrefix(location, "http://127.0.0.2:") {
		t.Fatalf("Location = %q, want the CDN on 127.0.0.2", location)
	}

	head := mustSend(t, client, http.MethodHead, blobURL(hub, hubsim.AlpineRepo, layer.Digest.String()), token, nil)
	if head.StatusCode != http.StatusOK || head.Header.Get("Docker-Content-Digest") != layer.Digest.String() {
		t.Errorf("HEAD: status %d, digest %q; want 200 with the digest", head.StatusCode, head.Header.Get("Docker-Content-Digest"))
	}

	ok := mustSend(t, client, http.MethodGet, location, "", nil)
	if ok.StatusCode != http.StatusOK || digest.FromBytes(ok.body) != layer.Digest {
		t.Fatalf("CDN GET: status %d, digest %s", ok.StatusCode, digest.FromBytes(ok.body))
	}

	withAuth := mustSend(t, client, http.MethodGet, location, token, nil)
	if withAuth.StatusCode != http.StatusBadRequest {
		t.Errorf("CDN GET with Authorization: status = %d, want 400", withAuth.StatusCode)
	}

	parsed, _ := url.Parse(location)
	query := parsed.Query()
	query.Set("sig", strings.Repeat("0", 64))
	parsed.RawQuery = query.Encode()
	if resp := mustSend(t, client, http.MethodGet, parsed.String(), "", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("CDN GET with a wrong signature: status = %d, want 403", resp.StatusCode)
	}

	clock.Advance(11 * time.Minute)
	if resp := mustSend(t, client, http.MethodGet, location, "", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("CDN GET after expiry: status = %d, want 403", resp.StatusCode)
	}

	stats := hub.Stats()
	if stats.CDNGets != 4 || stats.BlobGets != 1 || stats.CDNGetsByDigest[layer.Digest] != 4 {
		t.Errorf("CDNGets %d, BlobGets %d, by digest %d; want 4, 1, 4", stats.CDNGets, stats.BlobGets, stats.CDNGetsByDigest[layer.Digest])
	}
}

package upstream

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestManifestAcceptHeader(t *testing.T) {
	f := newFakeRegistry(t, "none")
	f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIIndex, body: testManifestBody})
	reg := newTestRegistry(t, f.URL())
	ctx := context.Background()

	if _, err := reg.HeadManifest(ctx, "library/alpine", "3.20"); err != nil {
		t.Fatalf("HeadManifest: %v", err)
	}
	if _, err := reg.GetManifest(ctx, "library/alpine", "3.20"); err != nil {
		t.Fatalf("GetManifest: %v", err)
	}

	reqs := f.registryRequests()
	if len(reqs) != 2 {
		t.Fatalf("requests = %d, want 2", len(reqs))
	}
	for _, req := range reqs {
		accept := strings.Join(req.Header.Values("Accept"), ",")
		for _, mt := range []string{MediaTypeOCIIndex, MediaTypeOCIManifest, MediaTypeDockerList, MediaTypeDockerManifest} {
			if !strings.Contains(accept, mt) {
				t.Errorf("%s Accept %q lacks %s", req.Method, accept, mt)
			}
		}
		if strings.Contains(accept, "manifest.v1+prettyjws") || strings.Contains(accept, "distribution.manifest.v1+json") {
			t.Errorf("%s Accept %q offers schema 1", req.Method, accept)
		}
	}
}

func TestHeadManifest(t *testing.T) {
	tests := []struct {
		name       string
		manifest   fakeManifest
		wantDigest bool
	}{
		{name: "with digest header", manifest: fakeManifest{mediaType: MediaTypeDockerManifest, body: testManifestBody}, wantDigest: true},
		{name: "digest header missing", manifest: fakeManifest{mediaType: MediaTypeDockerManifest, body: testManifestBody, omitDigest: true}},
		{name: "digest header malformed", manifest: fakeManifest{mediaType: MediaTypeDockerManifest, body: testManifestBody, digest: "sha256:nothex"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRegistry(t, "none")
			d := f.addManifest("org/base", "9", tt.manifest)
			reg := newTestRegistry(t, f.URL())

			desc, err := reg.HeadManifest(context.Background(), "org/base", "9")
			if err != nil {
				t.Fatalf("HeadManifest: %v", err)
			}

			if desc.MediaType != MediaTypeDockerManifest {
				t.Errorf("media type = %q", desc.MediaType)
			}
			if desc.Size != int64(len(testManifestBody)) {
				t.Errorf("size = %d, want %d", desc.Size, len(testManifestBody))
			}
			want := digest.Digest("")
			if tt.wantDigest {
				want = d
			}
			if desc.Digest != want {
				t.Errorf("digest = %q, want %q", desc.Digest, want)
			}
		})
	}
}

func TestGetManifestDigest(t *testing.T) {
	body := testManifestBody
	sha256Digest := digest.FromBytes(body)
	sha512Digest := digest.SHA512.FromBytes(body)
	other := digest.FromString("other")

	tests := []struct {
		name       string
		ref        string // "" means the sha256 digest of body
		manifest   fakeManifest
		wantDigest digest.Digest
		wantKind   Kind // KindUnknown means success
	}{
		{name: "tag with header", ref: "9", manifest: fakeManifest{body: body}, wantDigest: sha256Digest},
		{name: "tag without header", ref: "9", manifest: fakeManifest{body: body, omitDigest: true}, wantDigest: sha256Digest},
		{name: "tag with sha512 header", ref: "9", manifest: fakeManifest{body: body, digest: sha512Digest}, wantDigest: sha512Digest},
		{name: "digest ref", ref: sha256Digest.String(), manifest: fakeManifest{body: body, omitDigest: true}, wantDigest: sha256Digest},
		{name: "header disagrees with body", ref: "9", manifest: fakeManifest{body: body, digest: other}, wantKind: KindInvalid},
		{name: "body does not match digest ref", ref: other.String(), manifest: fakeManifest{body: body, omitDigest: true}, wantKind: KindInvalid},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRegistry(t, "none")
			tt.manifest.mediaType = MediaTypeOCIManifest
			f.addManifest("org/base", tt.ref, tt.manifest)
			reg := newTestRegistry(t, f.URL())

			m, err := reg.GetManifest(context.Background(), "org/base", tt.ref)

			if tt.wantKind != KindUnknown {
				requireKind(t, err, tt.wantKind)
				return
			}
			if err != nil {
				t.Fatalf("GetManifest: %v", err)
			}
			if m.Digest != tt.wantDigest {
				t.Errorf("digest = %s, want %s", m.Digest, tt.wantDigest)
			}
			if m.Size != int64(len(body)) {
				t.Errorf("size = %d, want %d", m.Size, len(body))
			}
			if m.MediaType != MediaTypeOCIManifest {
				t.Errorf("media type = %q", m.MediaType)
			}
		})
	}
}

func TestGetManifestMediaTypeFromBody(t *testing.T) {
	f := newFakeRegistry(t, "none")
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v2/" {
			return false
		}
		w.Header()["Content-Type"] = nil // stop net/http from sniffing one
		_, _ = w.Write(testManifestBody)
		return true
	}
	reg := newTestRegistry(t, f.URL())

	m, err := reg.GetManifest(context.Background(), "org/base", "9")
	if err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	if m.MediaType != MediaTypeOCIManifest {
		t.Errorf("media type = %q, want the body's mediaType", m.MediaType)
	}
}

func TestManifestTooLarge(t *testing.T) {
	const limit = 1024

	tests := []struct {
		name    string
		method  string
		chunked bool
	}{
		{name: "GET with Content-Length", method: http.MethodGet},
		{name: "GET chunked", method: http.MethodGet, chunked: true},
		{name: "HEAD with Content-Length", method: http.MethodHead},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			big := append([]byte(`{"mediaType":"x","pad":"`), bytesOf(limit)...)
			f := newFakeRegistry(t, "none")
			f.handler = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/v2/" {
					return false
				}
				w.Header().Set("Content-Type", MediaTypeOCIManifest)
				if !tt.chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(big)))
				}
				if r.Method == http.MethodGet {
					_, _ = w.Write(big)
				}
				return true
			}
			reg := newTestRegistry(t, f.URL(), func(o *Options) { o.MaxManifestSize = limit })

			var err error
			if tt.method == http.MethodHead {
				_, err = reg.HeadManifest(context.Background(), "org/base", "9")
			} else {
				_, err = reg.GetManifest(context.Background(), "org/base", "9")
			}

			requireKind(t, err, KindTooLarge)
		})
	}
}

func TestManifestNotFoundKinds(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    Kind
	}{
		{name: "unknown tag", message: "manifest unknown", want: KindNotFound},
		{name: "accept header", message: "OCI index found, but accept header does not support OCI indexes", want: KindNotAcceptable},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRegistry(t, "none")
			f.handler = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/v2/" {
					return false
				}
				writeOCIError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", tt.message)
				return true
			}
			reg := newTestRegistry(t, f.URL())

			_, err := reg.GetManifest(context.Background(), "org/base", "9")

			e := requireKind(t, err, tt.want)
			if e.Code != "MANIFEST_UNKNOWN" {
				t.Errorf("code = %q", e.Code)
			}
			if e.Message != tt.message {
				t.Errorf("message = %q, want %q", e.Message, tt.message)
			}
		})
	}
}

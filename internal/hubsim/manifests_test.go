package hubsim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pullcache/pullcache/internal/hubsim"
)

func TestAcceptNegotiation(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.MultiArchRepo, hubsim.ManifestListRepo, hubsim.AlpineRepo)

	const (
		ociIndex   = v1.MediaTypeImageIndex
		ociImage   = v1.MediaTypeImageManifest
		dockerList = hubsim.MediaTypeDockerManifestList
		dockerV2   = hubsim.MediaTypeDockerManifest
	)
	tests := []struct {
		name    string
		repo    string
		accept  []string // one Accept header per element
		status  int
		message string
	}{
		{"index with all types", hubsim.MultiArchRepo, []string{hubsim.AllManifestTypes}, 200, ""},
		{"index with schema 2 types only", hubsim.MultiArchRepo, []string{dockerV2 + ", " + dockerList}, 404, "OCI index found, but accept header does not support OCI indexes"},
		{"index without Accept", hubsim.MultiArchRepo, nil, 404, "OCI index found, but accept header does not support OCI indexes"},
		{"index in a second Accept header", hubsim.MultiArchRepo, []string{dockerV2, ociIndex}, 200, ""},
		{"index with q parameter", hubsim.MultiArchRepo, []string{ociIndex + ";q=0.9"}, 200, ""},
		{"list with all types", hubsim.ManifestListRepo, []string{hubsim.AllManifestTypes}, 200, ""},
		{"list without list type", hubsim.ManifestListRepo, []string{dockerV2 + "," + ociIndex + "," + ociImage}, 404, "manifest list found, but accept header does not support manifest lists"},
		{"schema 2 with its type", hubsim.AlpineRepo, []string{dockerV2}, 200, ""},
		{"schema 2 with OCI types only", hubsim.AlpineRepo, []string{ociImage + ", " + ociIndex}, 404, "schema 2 manifest found, but accept header does not support schema 2 manifests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := "latest"
			if tt.repo == hubsim.AlpineRepo {
				ref = "3.20"
			}
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				resp := mustSend(t, client, method, manifestURL(hub, tt.repo, ref), token, http.Header{"Accept": tt.accept})
				if resp.StatusCode != tt.status {
					t.Fatalf("%s: status = %d, want %d; body %s", method, resp.StatusCode, tt.status, resp.body)
				}
				if method == http.MethodHead || tt.status == 200 {
					continue
				}
				if code := errorCode(t, resp.body); code != "MANIFEST_UNKNOWN" {
					t.Errorf("code = %q, want MANIFEST_UNKNOWN", code)
				}
				if msg := errorMessage(resp.body); msg != tt.message {
					t.Errorf("message = %q, want %q", msg, tt.message)
				}
			}
		})
	}
}

func TestOCIManifestNeedsItsType(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.MultiArchRepo)

	resp := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.MultiArchRepo, std.MultiArch.Images[0].Digest.String()), token,
		http.Header{"Accept": {hubsim.MediaTypeDockerManifest, v1.MediaTypeImageIndex}})

	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", resp.StatusCode)
	}
	if msg := errorMessage(resp.body); msg != "OCI manifest found, but accept header does not support OCI manifests" {
		t.Errorf("message = %q", msg)
	}
}

func TestManifestHeaders(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)

	get := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())
	head := mustSend(t, client, http.MethodHead, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())

	for name, resp := range map[string]response{"GET": get, "HEAD": head} {
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status = %d", name, resp.StatusCode)
		}
		want := map[string]string{
			"Content-Type":                    hubsim.MediaTypeDockerManifest,
			"Docker-Content-Digest":           std.Alpine.Digest.String(),
			"Content-Length":                  strconv.FormatInt(std.Alpine.Size, 10),
			"Docker-Distribution-Api-Version": "registry/2.0",
			"Etag":                            `"` + std.Alpine.Digest.String() + `"`,
		}
		for key, value := range want {
			if got := resp.Header.Get(key); got != value {
				t.Errorf("%s: %s = %q, want %q", name, key, got, value)
			}
		}
	}
	if got := digest.FromBytes(get.body); got != std.Alpine.Digest {
		t.Errorf("body digest = %s, want %s", got, std.Alpine.Digest)
	}
	if len(head.body) != 0 {
		t.Errorf("HEAD body has %d bytes", len(head.body))
	}
}

func TestUnknownManifest(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)

	for _, ref := range []string{"does-not-exist", digest.FromString("nothing").String()} {
		resp := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, ref), token, acceptAll())
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status = %d, want 404", ref, resp.StatusCode)
		}
		if code := errorCode(t, resp.body); code != "MANIFEST_UNKNOWN" {
			t.Errorf("%s: code = %q, want MANIFEST_UNKNOWN", ref, code)
		}
	}
	if hub.PullsBy("127.0.0.1") != 0 {
		t.Errorf("pulls = %d, want 0 for unknown manifests", hub.PullsBy("127.0.0.1"))
	}
}

func TestIfNoneMatch(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)

	header := acceptAll()
	header.Set("If-None-Match", `"`+std.Alpine.Digest.String()+`"`)
	resp := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, header)

	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("status = %d, want 304", resp.StatusCode)
	}
	if hub.PullsBy("127.0.0.1") != 1 {
		t.Errorf("pulls = %d, want 1: a conditional GET is a manifest GET", hub.PullsBy("127.0.0.1"))
	}
}

func TestMoveAndDeleteTag(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.MovingRepo)
	target := manifestURL(hub, hubsim.MovingRepo, "v1")

	if got := mustSend(t, client, http.MethodHead, target, token, acceptAll()).Header.Get("Docker-Content-Digest"); got != std.Moving.Digest.String() {
		t.Fatalf("before move: digest %s, want %s", got, std.Moving.Digest)
	}

	moved, err := std.MoveMovingTag()
	if err != nil || moved != std.MovingNext.Digest {
		t.Fatalf("MoveMovingTag = %s, %v; want %s", moved, err, std.MovingNext.Digest)
	}
	if got := mustSend(t, client, http.MethodHead, target, token, acceptAll()).Header.Get("Docker-Content-Digest"); got != std.MovingNext.Digest.String() {
		t.Errorf("after move: digest %s, want %s", got, std.MovingNext.Digest)
	}
	if back, _ := std.MoveMovingTag(); back != std.Moving.Digest {
		t.Errorf("second move = %s, want %s", back, std.Moving.Digest)
	}

	if !hub.DeleteTag(hubsim.MovingRepo, "v1") {
		t.Fatal("DeleteTag reported no tag")
	}
	if resp := mustSend(t, client, http.MethodGet, target, token, acceptAll()); resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted tag: status = %d, want 404", resp.StatusCode)
	}
	byDigest := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.MovingRepo, std.Moving.Digest.String()), token, acceptAll())
	if byDigest.StatusCode != http.StatusOK {
		t.Errorf("by digest after tag deletion: status = %d, want 200", byDigest.StatusCode)
	}
	if err := hub.MoveTag(hubsim.MovingRepo, "v1", digest.FromString("absent")); err == nil {
		t.Error("MoveTag to an absent manifest succeeded")
	}
}

func TestTagsListPagination(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{})
	client := newClient(t)
	for _, tag := range []string{"a", "b", "c"} {
		if err := hub.MoveTag(hubsim.MovingRepo, tag, std.Moving.Digest); err != nil {
			t.Fatal(err)
		}
	}
	token := fetchToken(t, client, hub, "", "", hubsim.MovingRepo)

	var pages [][]string
	next := "/v2/library/moving/tags/list?n=2"
	for next != "" && len(pages) < 10 {
		resp := mustSend(t, client, http.MethodGet, hub.URL()+next, token, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d", resp.StatusCode)
		}
		var body struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(resp.body, &body); err != nil {
			t.Fatalf("decode: %v", err)
		}
		pages = append(pages, body.Tags)

		next = ""
		if link := resp.Header.Get("Link"); link != "" {
			next = link[1 : len(link)-len(`>; rel="next"`)]
		}
	}

	want := [][]string{{"a", "b"}, {"c", "v1"}, {"v2"}}
	if len(pages) != len(want) {
		t.Fatalf("pages = %v, want %v", pages, want)
	}
	for i := range want {
		if len(pages[i]) != len(want[i]) || pages[i][0] != want[i][0] {
			t.Errorf("page %d = %v, want %v", i, pages[i], want[i])
		}
	}
}

func TestReferrers(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.MultiArchRepo)
	subject := std.MultiArch.Images[0].Digest.String()

	tests := []struct {
		name     string
		query    string
		count    int
		filtered bool
	}{
		{"all", "", 1, false},
		{"matching filter", "?artifactType=" + url.QueryEscape(hubsim.SBOMArtifactType), 1, true},
		{"other filter", "?artifactType=application/x-other", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := mustSend(t, client, http.MethodGet, hub.URL()+"/v2/library/multiarch/referrers/"+subject+tt.query, token, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != v1.MediaTypeImageIndex {
				t.Errorf("Content-Type = %q", got)
			}
			if got := resp.Header.Get("OCI-Filters-Applied") == "artifactType"; got != tt.filtered {
				t.Errorf("OCI-Filters-Applied set = %v, want %v", got, tt.filtered)
			}

			var index v1.Index
			if err := json.Unmarshal(resp.body, &index); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(index.Manifests) != tt.count {
				t.Fatalf("manifests = %d, want %d", len(index.Manifests), tt.count)
			}
			if tt.count == 1 && (index.Manifests[0].Digest != std.SBOM.Digest || index.Manifests[0].ArtifactType != hubsim.SBOMArtifactType) {
				t.Errorf("referrer = %+v, want %s", index.Manifests[0], std.SBOM.Digest)
			}
		})
	}
}

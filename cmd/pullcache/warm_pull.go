package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// manifestAccept is every manifest type, as a client that takes indexes
// sends it.
var manifestAccept = strings.Join([]string{
	v1.MediaTypeImageIndex,
	v1.MediaTypeImageManifest,
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}, ", ")

// maxWarmManifestSize bounds a manifest that warm reads, as the mirror's
// default limit does.
const maxWarmManifestSize = 4 << 20

// warmTarget is one image to pull: the mirror path of its repository, the
// registry it comes from and the tag or digest.
type warmTarget struct {
	name     string // as the user wrote it
	registry string // such as docker.io
	repo     string // such as library/alpine
	ref      string // tag or digest
}

// parseWarmTarget accepts the references docker pull does: alpine,
// alpine:3.20, ghcr.io/owner/app@sha256:…
func parseWarmTarget(s string) (warmTarget, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return warmTarget{}, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	named = reference.TagNameOnly(named)
	t := warmTarget{name: s, registry: reference.Domain(named), repo: reference.Path(named)}
	switch r := named.(type) {
	case reference.Digested:
		t.ref = r.Digest().String()
	case reference.Tagged:
		t.ref = r.Tag()
	}
	return t, nil
}

// platformMatcher selects the children of an index to pull.
type platformMatcher struct {
	all       bool
	platforms []v1.Platform
}

func (m platformMatcher) matches(p *v1.Platform) bool {
	if m.all {
		return true
	}
	if p == nil {
		return false
	}
	for _, want := range m.platforms {
		if p.OS == want.OS && p.Architecture == want.Architecture && (want.Variant == "" || p.Variant == want.Variant) {
			return true
		}
	}
	return false
}

// parsePlatform accepts OS/ARCH and OS/ARCH/VARIANT.
func parsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("invalid platform %q: want OS/ARCH or OS/ARCH/VARIANT, such as linux/amd64", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// warmResult counts the manifests, blobs and upstream pulls of one image.
type warmResult struct {
	manifests int
	layers    int   // layer blobs, without the config blobs
	bytes     int64 // of every blob, config blobs included
	// upstreamPulls counts manifest responses that the mirror fetched from
	// upstream with a GET (X-Cache-Status MISS or BYPASS). Docker Hub
	// counts each such GET as one pull; HEAD revalidations are free.
	upstreamPulls int
}

// warmer pulls images through a mirror.
type warmer struct {
	mirror   string // base URL, without a trailing slash
	client   *http.Client
	platform platformMatcher
	// auth is sent with every request when set.
	auth *mirrorCredentials
}

// pull GETs the image's manifest, the platform manifests it selects and
// every blob they name, reporting progress to p.
func (w *warmer) pull(ctx context.Context, t warmTarget, p imageProgress) (warmResult, error) {
	var res warmResult
	body, mediaType, err := w.getManifest(ctx, t, t.ref, &res)
	if err != nil {
		return res, err
	}

	var images [][]byte
	var index v1.Index
	if isIndex(mediaType) {
		if err := json.Unmarshal(body, &index); err != nil {
			return res, fmt.Errorf("decode index %s: %w", t.ref, err)
		}
		for _, desc := range index.Manifests {
			if !w.platform.matches(desc.Platform) {
				continue
			}
			child, _, err := w.getManifest(ctx, t, desc.Digest.String(), &res)
			if err != nil {
				return res, err
			}
			images = append(images, child)
		}
		if len(images) == 0 {
			return res, fmt.Errorf("index %s has no manifest for the requested platforms", t.ref)
		}
	} else {
		images = append(images, body)
	}

	var blobs []warmBlob
	for _, raw := range images {
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return res, fmt.Errorf("decode manifest: %w", err)
		}
		blobs = append(blobs, warmBlob{Descriptor: m.Config})
		for _, l := range m.Layers {
			blobs = append(blobs, warmBlob{Descriptor: l, layer: true})
		}
	}
	var total int64
	for _, b := range blobs {
		total += b.Size
	}
	p.start(len(blobs), total)

	for _, b := range blobs {
		n, err := w.getBlob(ctx, t, b.Digest, p)
		res.bytes += n
		if err != nil {
			return res, err
		}
		if b.layer {
			res.layers++
		}
		p.blobDone()
	}
	return res, nil
}

// warmBlob is a config or layer blob that a manifest names.
type warmBlob struct {
	v1.Descriptor
	layer bool
}

func isIndex(mediaType string) bool {
	return mediaType == v1.MediaTypeImageIndex || mediaType == "application/vnd.docker.distribution.manifest.list.v2+json"
}

// url builds a mirror URL for the image's repository, naming its registry
// with the ns parameter as containerd does.
func (w *warmer) url(t warmTarget, kind, ref string) string {
	return w.mirror + "/v2/" + t.repo + "/" + kind + "/" + ref + "?ns=" + url.QueryEscape(t.registry)
}

func (w *warmer) getManifest(ctx context.Context, t warmTarget, ref string, res *warmResult) ([]byte, string, error) {
	resp, err := w.get(ctx, w.url(t, "manifests", ref), manifestAccept)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWarmManifestSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("read manifest %s: %w", ref, err)
	}
	if len(body) > maxWarmManifestSize {
		return nil, "", fmt.Errorf("manifest %s is larger than %d bytes", ref, maxWarmManifestSize)
	}
	if d, err := digest.Parse(ref); err == nil && d.Algorithm().FromBytes(body) != d {
		return nil, "", fmt.Errorf("manifest %s: the mirror sent bytes of another digest", ref)
	}
	res.manifests++
	if status := resp.Header.Get("X-Cache-Status"); status == "MISS" || status == "BYPASS" {
		res.upstreamPulls++
	}
	mediaType := resp.Header.Get("Content-Type")
	if i := strings.IndexByte(mediaType, ';'); i >= 0 {
		mediaType = strings.TrimSpace(mediaType[:i])
	}
	return body, mediaType, nil
}

// getBlob reads a blob to its end, checking its digest, so that the mirror
// stores it.
func (w *warmer) getBlob(ctx context.Context, t warmTarget, d digest.Digest, p imageProgress) (int64, error) {
	resp, err := w.get(ctx, w.url(t, "blobs", d.String()), "")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()

	verifier := d.Verifier()
	n, err := io.Copy(io.MultiWriter(verifier, progressWriter{p}), resp.Body)
	if err != nil {
		return n, fmt.Errorf("read blob %s: %w", d, err)
	}
	if !verifier.Verified() {
		return n, fmt.Errorf("blob %s: the mirror sent bytes of another digest", d)
	}
	return n, nil
}

// get sends a GET and returns the response when it is 200, else an error
// with the registry's error message.
func (w *warmer) get(ctx context.Context, u, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if w.auth != nil {
		req.SetBasicAuth(w.auth.username, w.auth.password)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	hint := ""
	if resp.StatusCode == http.StatusUnauthorized {
		hint = " (log in to the mirror with docker login or crane auth login; warm reads the Docker config)"
	}
	return nil, fmt.Errorf("GET %s: %s%s%s", strings.TrimPrefix(u, w.mirror), resp.Status, registryMessage(resp.Body), hint)
}

// registryMessage returns ": CODE: message" from an OCI error body, or "".
func registryMessage(body io.Reader) string {
	var e struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	data, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	if json.Unmarshal(data, &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	return ": " + e.Errors[0].Code + ": " + e.Errors[0].Message
}

// progressWriter reports bytes as they are read.
type progressWriter struct{ p imageProgress }

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.addBytes(int64(len(b)))
	return len(b), nil
}

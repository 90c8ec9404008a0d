package upstream

import (
	"context"
	// Register the hashes behind digest.SHA256 and digest.SHA512.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Manifest media types sent in Accept on every manifest request. Sending all
// of them keeps one canonical manifest per tag in the store. Docker schema 1
// is left out on purpose: it is deprecated and its digest is not stable.
const (
	MediaTypeOCIIndex            = "application/vnd.oci.image.index.v1+json"
	MediaTypeOCIManifest         = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeDockerList          = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerManifest      = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeOCIArtifactManifest = "application/vnd.oci.artifact.manifest.v1+json"
)

var manifestAccept = strings.Join([]string{
	MediaTypeOCIIndex,
	MediaTypeOCIManifest,
	MediaTypeDockerList,
	MediaTypeDockerManifest,
	MediaTypeOCIArtifactManifest,
}, ", ")

// HeadManifest returns a manifest's descriptor from a HEAD request. Docker Hub does not count a
// HEAD as a pull. Digest is empty when the registry sent no valid
// Docker-Content-Digest; Size is -1 when it sent no Content-Length.
func (r *Registry) HeadManifest(ctx context.Context, repo, ref string) (Descriptor, error) {
	resp, err := r.send(ctx, manifestRequest(http.MethodHead, repo, ref))
	if err != nil {
		return Descriptor{}, err
	}
	defer resp.Body.Close()

	if resp.ContentLength > r.opts.MaxManifestSize {
		return Descriptor{}, r.tooLarge(resp.StatusCode, "manifest", resp.ContentLength, r.opts.MaxManifestSize)
	}

	desc := Descriptor{
		MediaType: mediaType(resp.Header),
		Digest:    r.headerDigest(resp.Header),
		Size:      resp.ContentLength,
	}

	if want, err := digest.Parse(ref); err == nil && desc.Digest != "" && desc.Digest != want {
		return Descriptor{}, &Error{Upstream: r.name, Kind: KindInvalid, Status: resp.StatusCode,
			Err: fmt.Errorf("HEAD manifest %s: Docker-Content-Digest is %s", want, desc.Digest)}
	}

	return desc, nil
}

// GetManifest fetches a manifest, capped at MaxManifestSize, and computes
// its digest from the body. The algorithm is the one of ref when ref is a
// digest, else the one of Docker-Content-Digest, else sha256. A body that
// does not match a digest ref, or a Docker-Content-Digest that does not
// match the body, is KindInvalid.
func (r *Registry) GetManifest(ctx context.Context, repo, ref string) (Manifest, error) {
	resp, err := r.send(ctx, manifestRequest(http.MethodGet, repo, ref))
	if err != nil {
		return Manifest{}, err
	}
	defer resp.Body.Close()

	body, err := r.readCapped(resp, "manifest", r.opts.MaxManifestSize)
	if err != nil {
		return Manifest{}, err
	}

	dgst, err := r.verifyManifest(resp.StatusCode, ref, r.headerDigest(resp.Header), body)
	if err != nil {
		return Manifest{}, err
	}

	mt := mediaType(resp.Header)
	if mt == "" {
		mt = bodyMediaType(body)
	}

	return Manifest{
		Descriptor: Descriptor{MediaType: mt, Digest: dgst, Size: int64(len(body))},
		Body:       body,
	}, nil
}

func manifestRequest(method, repo, ref string) request {
	return request{
		kind:   requestManifest,
		method: method,
		path:   "/v2/" + repo + "/manifests/" + ref,
		accept: manifestAccept,
		scope:  pullScope(repo),
	}
}

func (r *Registry) verifyManifest(status int, ref string, header digest.Digest, body []byte) (digest.Digest, error) {
	alg := digest.SHA256
	want, refErr := digest.Parse(ref)
	switch {
	case refErr == nil:
		alg = want.Algorithm()
	case header != "":
		alg = header.Algorithm()
	}

	if !alg.Available() {
		return "", &Error{Upstream: r.name, Kind: KindInvalid, Status: status,
			Err: fmt.Errorf("manifest %s: digest algorithm %q is not supported", ref, alg)}
	}

	got := alg.FromBytes(body)
	if refErr == nil && got != want {
		return "", &Error{Upstream: r.name, Kind: KindInvalid, Status: status,
			Err: fmt.Errorf("manifest body has digest %s, not the requested %s", got, want)}
	}

	if header != "" && header.Algorithm().Available() && header.Algorithm().FromBytes(body) != header {
		return "", &Error{Upstream: r.name, Kind: KindInvalid, Status: status,
			Err: fmt.Errorf("manifest %s: Docker-Content-Digest %s does not match the body", ref, header)}
	}

	return got, nil
}

// headerDigest returns Docker-Content-Digest when it is a valid digest. A
// malformed value is treated as absent, so the caller falls back to hashing
// a GET body as it does for registries that omit the header.
func (r *Registry) headerDigest(h http.Header) digest.Digest {
	v := strings.TrimSpace(h.Get("Docker-Content-Digest"))
	if v == "" {
		return ""
	}

	d, err := digest.Parse(v)
	if err != nil {
		r.log.Debug("ignoring malformed Docker-Content-Digest", "value", oneLine(v, maxMessageLength), "err", err)
		return ""
	}

	return d
}

// readCapped reads a whole body of at most max bytes. A larger body is
// KindTooLarge, detected from Content-Length before reading when possible.
func (r *Registry) readCapped(resp *http.Response, what string, max int64) ([]byte, error) {
	if resp.ContentLength > max {
		return nil, r.tooLarge(resp.StatusCode, what, resp.ContentLength, max)
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}

	if int64(len(body)) > max {
		return nil, r.tooLarge(resp.StatusCode, what, -1, max)
	}

	return body, nil
}

func (r *Registry) tooLarge(status int, what string, size, max int64) *Error {
	err := fmt.Errorf("%s is larger than the maximum of %d bytes", what, max)
	if size >= 0 {
		err = fmt.Errorf("%s of %d bytes is larger than the maximum of %d bytes", what, size, max)
	}

	return &Error{Upstream: r.name, Kind: KindTooLarge, Status: status, Err: err}
}

// mediaType returns Content-Type without parameters.
func mediaType(h http.Header) string {
	v := h.Get("Content-Type")
	if v == "" {
		return ""
	}

	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		mt, _, _ = strings.Cut(v, ";")
		return strings.TrimSpace(mt)
	}

	return mt
}

// bodyMediaType reads the mediaType field of a manifest body, for registries
// that send no Content-Type.
func bodyMediaType(body []byte) string {
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return ""
	}

	return m.MediaType
}

func pullScope(repo string) string {
	return "repository:" + repo + ":pull"
}

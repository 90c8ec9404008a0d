package upstream

import (
	"context"
	"net/http"
	"net/url"

	"github.com/opencontainers/go-digest"
)

// GetReferrers fetches the OCI referrers index for d, filtered by
// artifactType when it is not empty. A registry without the referrers API
// returns 404, which is KindNotFound. The Digest is the sha256 of the body.
func (r *Registry) GetReferrers(ctx context.Context, repo string, d digest.Digest, artifactType string) (Manifest, error) {
	query := ""
	if artifactType != "" {
		query = url.Values{"artifactType": {artifactType}}.Encode()
	}

	resp, err := r.send(ctx, request{
		kind:   requestReferrers,
		method: http.MethodGet,
		path:   "/v2/" + repo + "/referrers/" + d.String(),
		query:  query,
		accept: MediaTypeOCIIndex,
		scope:  pullScope(repo),
	})
	if err != nil {
		return Manifest{}, err
	}
	defer resp.Body.Close()

	body, err := r.readCapped(resp, "referrers index", r.opts.MaxManifestSize)
	if err != nil {
		return Manifest{}, err
	}

	mt := mediaType(resp.Header)
	if mt == "" {
		mt = MediaTypeOCIIndex
	}

	return Manifest{
		Descriptor: Descriptor{MediaType: mt, Digest: digest.FromBytes(body), Size: int64(len(body))},
		Body:       body,
	}, nil
}

// ListTags passes a tags/list request through: rawQuery (such as
// "n=100&last=v1") is sent as is, and the body and the raw Link header
// come back unchanged. The body is capped at 4 MiB.
func (r *Registry) ListTags(ctx context.Context, repo, rawQuery string) (body []byte, link string, err error) {
	resp, err := r.send(ctx, request{
		kind:   requestTags,
		method: http.MethodGet,
		path:   "/v2/" + repo + "/tags/list",
		query:  rawQuery,
		accept: "application/json",
		scope:  pullScope(repo),
	})
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()

	body, err = r.readCapped(resp, "tag list", maxTagListSize)
	if err != nil {
		return nil, "", err
	}

	return body, resp.Header.Get("Link"), nil
}

package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/opencontainers/go-digest"
)

// GetBlob starts a blob download, following redirects to a CDN. It does not
// verify the digest: the caller hashes while streaming. size is -1 when
// unknown, which includes a gzip Content-Encoding that is decoded here,
// because the blob's digest is of the decoded bytes. Read errors are *Error
// (KindUnavailable for a stall or truncation) or the ctx error. The caller
// closes body.
func (r *Registry) GetBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	resp, err := r.send(ctx, blobRequest(http.MethodGet, repo, d))
	if err != nil {
		return nil, 0, err
	}

	size := resp.ContentLength
	if enc := contentEncoding(resp.Header); enc != "" && enc != "identity" {
		size = -1
	}

	return resp.Body, size, nil
}

// HeadBlob returns a blob's descriptor from a HEAD request, following
// redirects. Digest is d
// unless the registry reported another, which is KindInvalid. Size is -1
// when the response has no Content-Length.
func (r *Registry) HeadBlob(ctx context.Context, repo string, d digest.Digest) (Descriptor, error) {
	resp, err := r.send(ctx, blobRequest(http.MethodHead, repo, d))
	if err != nil {
		return Descriptor{}, err
	}
	defer resp.Body.Close()

	if got := r.headerDigest(resp.Header); got != "" && got != d {
		return Descriptor{}, &Error{Upstream: r.name, Kind: KindInvalid, Status: resp.StatusCode,
			Err: fmt.Errorf("HEAD blob %s: Docker-Content-Digest is %s", d, got)}
	}

	return Descriptor{MediaType: mediaType(resp.Header), Digest: d, Size: resp.ContentLength}, nil
}

func blobRequest(method, repo string, d digest.Digest) request {
	return request{
		kind:   requestBlob,
		method: method,
		path:   "/v2/" + repo + "/blobs/" + d.String(),
		scope:  pullScope(repo),
	}
}

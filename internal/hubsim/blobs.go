package hubsim

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
)

// serveBlob serves GET and HEAD /v2/<repo>/blobs/<digest>. The registry
// handles HEAD itself. GET redirects with 307 to a presigned
// CDN URL when the CDN runs, as Docker Hub does, and otherwise sends the
// bytes. Blob requests never count as pulls.
func (h *Hub) serveBlob(w http.ResponseWriter, r *http.Request, repo, ref string) {
	dgst, err := digest.Parse(ref)
	h.stats.update(func(s *Stats) {
		if r.Method == http.MethodHead {
			s.BlobHeads++
			return
		}
		s.BlobGets++
		if err == nil {
			s.BlobGetsByDigest[dgst]++
		}
	})

	id, ok := h.authorize(w, r, repo, "pull")
	if !ok {
		return
	}
	if h.applyFault(w, r, stageBlob, repo, id) {
		return
	}

	if err != nil {
		writeError(w, http.StatusBadRequest, codeDigestInvalid, "invalid digest", map[string]string{"digest": ref})
		return
	}
	src, ok := h.content.blob(dgst)
	if !ok {
		writeError(w, http.StatusNotFound, codeBlobUnknown, "blob unknown to registry", map[string]string{"digest": dgst.String()})
		return
	}

	if r.Method == http.MethodHead {
		setBlobHeaders(w, dgst, true)
		w.Header().Set("Content-Length", itoa(src.Size()))
		w.WriteHeader(http.StatusOK)
		return
	}

	if location := h.redirectLocation(dgst); location != "" {
		w.Header().Set("Location", location)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	h.sendBlob(w, r, dgst, src, stageBlob, repo)
}

// setBlobHeaders sets the headers of a blob response. The CDN, an object
// store, sends no Docker-Content-Digest, so registry is false there.
func setBlobHeaders(w http.ResponseWriter, dgst digest.Digest, registry bool) {
	if registry {
		w.Header().Set("Docker-Content-Digest", dgst.String())
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Etag", `"`+dgst.String()+`"`)
}

// sendBlob sends a blob's bytes for a GET: a single Range gets 206 or 416,
// the GzipBlobs quirk may encode the body, and a body fault may apply.
func (h *Hub) sendBlob(w http.ResponseWriter, r *http.Request, dgst digest.Digest, src blobSource, st stage, repo string) {
	setBlobHeaders(w, dgst, st != stageCDN)
	size := src.Size()

	start, end, kind := parseRange(r.Header.Get("Range"), size)
	if kind == rangeUnsatisfiable {
		w.Header().Set("Content-Range", "bytes */"+itoa(size))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return
	}

	fault := h.takeBodyFault(r, st, repo)
	if kind == rangeSingle {
		length := end - start + 1
		w.Header().Set("Content-Range", "bytes "+itoa(start)+"-"+itoa(end)+"/"+itoa(size))
		w.Header().Set("Content-Length", itoa(length))
		w.WriteHeader(http.StatusPartialContent)
		h.copyBody(w, r, io.NewSectionReader(src, start, length), fault, length)
		return
	}

	if h.Quirks().GzipBlobs && acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusOK)
		gz := gzip.NewWriter(h.newFaultWriter(w, r, fault, -1))
		if _, err := io.Copy(gz, io.NewSectionReader(src, 0, size)); err != nil {
			h.logf("send gzip-encoded blob %s: %v", dgst, err)
			return
		}
		if err := gz.Close(); err != nil {
			h.logf("send gzip-encoded blob %s: %v", dgst, err)
		}
		return
	}

	w.Header().Set("Content-Length", itoa(size))
	w.WriteHeader(http.StatusOK)
	h.copyBody(w, r, io.NewSectionReader(src, 0, size), fault, size)
}

// copyBody copies body to the client through the fault writer. A failed
// copy means the client went away; it is logged, since the status is sent.
func (h *Hub) copyBody(w http.ResponseWriter, r *http.Request, body io.Reader, fault *Fault, length int64) {
	if _, err := io.Copy(h.newFaultWriter(w, r, fault, length), body); err != nil {
		h.logf("send body of %s %s: %v", r.Method, r.URL.Path, err)
	}
}

// acceptsGzip reports whether Accept-Encoding names gzip with a non-zero
// quality.
func acceptsGzip(r *http.Request) bool {
	for _, value := range r.Header.Values("Accept-Encoding") {
		for _, item := range strings.Split(value, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(item), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			quality := strings.ReplaceAll(params, " ", "")
			if quality == "q=0" || quality == "q=0.0" || quality == "q=0.00" || quality == "q=0.000" {
				return false
			}
			return true
		}
	}
	return false
}

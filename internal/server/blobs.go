package server

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"

	"github.com/pullcache/pullcache/internal/cache"
)

func setBlobHeaders(w http.ResponseWriter, rt *route, status cache.Status) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Docker-Content-Digest", rt.digest.String())
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", `"`+rt.digest.String()+`"`)
	h.Set("X-Cache-Status", string(status))
}

func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, rt *route) error {
	if r.Method == http.MethodHead {
		size, status, err := s.cache.HeadBlob(r.Context(), rt.upstream, rt.repo, rt.digest)
		if err != nil {
			return err
		}
		setBlobHeaders(w, rt, status)
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}

	blob, err := s.cache.GetBlob(r.Context(), rt.upstream, rt.repo, rt.digest)
	if err != nil {
		return err
	}
	defer blob.Close()
	if blob.Status == cache.StatusHit && s.blobRedirect != nil && s.redirectBlob(w, r, rt) {
		return nil
	}
	setBlobHeaders(w, rt, blob.Status)

	if r.Header.Get("Range") != "" && blob.Size < 0 {
		// Upstream sent no Content-Length, so a range can be served only
		// after the whole blob has arrived.
		if _, err := blob.WaitSize(r.Context()); err != nil {
			return err
		}
	}

	status := http.StatusOK
	offset, length := int64(0), blob.Size
	if blob.Size >= 0 {
		rng, result := parseRange(r.Header.Get("Range"), blob.Size)
		switch result {
		case rangeUnsatisfiable:
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", blob.Size))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return nil
		case rangePartial:
			status = http.StatusPartialContent
			offset, length = rng.start, rng.length()
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.start, rng.end, blob.Size))
		}
		w.Header().Set("Content-Length", strconv.FormatInt(length, 10))
	}

	body, err := blob.Open(r.Context(), offset)
	if err != nil {
		return err
	}
	defer body.Close()

	w.WriteHeader(status)
	var src io.Reader = body
	if stored, ok := body.(interface{ File() *os.File }); ok && stored.File() != nil {
		src = stored.File() // keeps the sendfile(2) path of net/http
	}
	if length >= 0 {
		src = io.LimitReader(src, length)
	}
	written, err := io.Copy(w, src)
	if err == nil && length >= 0 && written < length {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		// Abort the response without a clean end, so the client sees a
		// failed transfer rather than a short body that looks complete.
		s.log.Warn("blob transfer aborted", slog.String("request_id", requestID(r)),
			slog.String("digest", rt.digest.String()), slog.Int64("written", written), slog.Any("err", err))
		panic(http.ErrAbortHandler)
	}
	return nil
}

package server

import (
	"net/http"
	"strconv"

	"github.com/pullcache/pullcache/internal/cache"
)

func (s *Server) serveManifest(w http.ResponseWriter, r *http.Request, rt *route) error {
	var res cache.ManifestResult
	var err error
	if r.Method == http.MethodHead {
		res, err = s.cache.HeadManifest(r.Context(), rt.upstream, rt.repo, rt.ref)
	} else {
		res, err = s.cache.GetManifest(r.Context(), rt.upstream, rt.repo, rt.ref)
	}
	if err != nil {
		return err
	}

	// A digest names exact bytes, so only tags are negotiated.
	if rt.digest == "" && !acceptsManifest(r, res.MediaType) {
		return newError(http.StatusNotFound, "MANIFEST_UNKNOWN",
			"%s has media type %s, which the request's Accept header does not list; accept that media type to pull it", rt.describe(), res.MediaType)
	}

	h := w.Header()
	h.Set("Content-Type", res.MediaType)
	h.Set("Docker-Content-Digest", res.Digest.String())
	h.Set("Content-Length", strconv.FormatInt(res.Size, 10))
	h.Set("ETag", `"`+res.Digest.String()+`"`)
	h.Set("X-Cache-Status", string(res.Status))
	w.WriteHeader(http.StatusOK)

	if r.Method == http.MethodGet {
		if _, err := w.Write(res.Body); err != nil {
			s.log.Debug("write manifest response", "request_id", requestID(r), "err", err)
		}
	}
	return nil
}

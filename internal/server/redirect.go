package server

import (
	"log/slog"
	"net/http"

	"github.com/pullcache/pullcache/internal/cache"
)

// redirectBlob responds to a GET of a stored blob with a 307 to a presigned
// URL of the store. It reports false, having written nothing, when no URL could
// be made; the blob is then streamed as usual.
func (s *Server) redirectBlob(w http.ResponseWriter, r *http.Request, rt *route) bool {
	url, err := s.blobRedirect(r.Context(), rt.digest)
	if err != nil {
		s.log.Warn("blob redirect failed, streaming instead", slog.String("request_id", requestID(r)),
			slog.String("digest", rt.digest.String()), slog.Any("err", err))
		return false
	}
	h := w.Header()
	h.Set("Docker-Content-Digest", rt.digest.String())
	h.Set("X-Cache-Status", string(cache.StatusHit))
	h.Set("Location", url)
	w.WriteHeader(http.StatusTemporaryRedirect)
	return true
}

package server

import (
	"mime"
	"net/http"
	"strings"

	"github.com/pullcache/pullcache/internal/cache"
)

// acceptsManifest reports whether a client may be sent a manifest of the
// given media type. Clients send Accept as several headers or as one
// comma-separated list, so both are read. With no Accept header a client
// gets image manifests as stored, but an index or manifest list only when
// it names the type, as Docker Hub and distribution do.
func acceptsManifest(r *http.Request, mediaType string) bool {
	values := r.Header.Values("Accept")
	if len(values) == 0 {
		return !cache.IsIndex(mediaType)
	}
	for _, value := range values {
		for _, item := range strings.Split(value, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(item))
			if err != nil {
				continue
			}
			if mt == mediaType || mt == "*/*" {
				return true
			}
		}
	}
	return false
}

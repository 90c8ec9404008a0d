package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"
)

// labelsKey is the context key of the *requestLabels that Middleware puts
// on each request, so that the handler can name the upstream it routed to.
type labelsKey struct{}

type requestLabels struct {
	upstream string
}

// NoteUpstream records which configured upstream a client request was
// routed to. The server calls it once routing is done; outside Middleware
// it does nothing.
func NoteUpstream(ctx context.Context, name string) {
	if l, ok := ctx.Value(labelsKey{}).(*requestLabels); ok {
		l.upstream = name
	}
}

// Middleware counts every client request of next by upstream, kind,
// method and the X-Cache-Status the handler set, and records its duration
// and body bytes.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		labels := &requestLabels{upstream: "none"}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), labelsKey{}, labels)))

		kind := RequestKind(r.URL.Path)
		status := cacheStatus(rec.Header().Get("X-Cache-Status"), rec.code())
		m.clientRequests.WithLabelValues(labels.upstream, kind, methodLabel(r.Method), status).Inc()
		m.clientDuration.WithLabelValues(kind, status).Observe(time.Since(start).Seconds())
		if rec.bytes > 0 {
			m.servedBytes.WithLabelValues(kind, status).Add(float64(rec.bytes))
		}
	})
}

// cacheStatus is the cache_status label: the response's X-Cache-Status,
// "error" for a failed request without one, "none" for other responses
// (the API ping, tag lists, the catalog).
func cacheStatus(header string, code int) string {
	switch header {
	case "HIT", "MISS", "REVALIDATED", "STALE", "BYPASS":
		if code >= 400 {
			return "error"
		}
		return header
	}
	if code >= 400 {
		return "error"
	}
	return "none"
}

// RequestKind classifies a registry API path without keeping any part of
// the repository name.
func RequestKind(path string) string {
	switch {
	case path == "/v2" || path == "/v2/":
		return "ping"
	case path == "/v2/_catalog":
		return "catalog"
	case !strings.HasPrefix(path, "/v2/"):
		return "other"
	case strings.HasSuffix(path, "/tags/list"):
		return "tags"
	case strings.Contains(path, "/manifests/"):
		return "manifest"
	case strings.Contains(path, "/blobs/uploads"):
		return "other"
	case strings.Contains(path, "/blobs/"):
		return "blob"
	case strings.Contains(path, "/referrers/"):
		return "referrers"
	}
	return "other"
}

func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return method
	}
	return "other"
}

// recorder remembers the status code and counts the body bytes written.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the underlying writer's sendfile path for blobs served
// from files, while still counting the bytes.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := io.Copy(r.ResponseWriter, src)
	r.bytes += n
	return n, err
}

func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Unwrap lets http.ResponseController reach the underlying writer, for
// Flush and deadlines.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush passes flushes through to streaming responses.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

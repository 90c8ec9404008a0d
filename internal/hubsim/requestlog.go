package hubsim

import (
	"net/http"
)

// statusRecorder keeps the status code a handler sent, for the request log.
// Unwrap lets http.ResponseController reach Flush and Hijack underneath.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter {
	return s.ResponseWriter
}

// withRequestLog counts each request in Stats.Requests and, when
// Options.Logf is set, logs it with its status. A status of 0 means the
// handler sent nothing, for example a dropped connection.
func (h *Hub) withRequestLog(name ServiceName, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.stats.countRequest(r.Method + " " + r.URL.Path)

		if h.opts.Logf == nil {
			next.ServeHTTP(w, r)
			return
		}

		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			h.logf("%s %s %s from %s: %d", name, r.Method, r.URL.RequestURI(), r.RemoteAddr, rec.status)
		}()
		next.ServeHTTP(rec, r)
	})
}

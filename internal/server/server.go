// Package server is the registry HTTP API that clients pull from: routing,
// validation, OCI error bodies and response headers. The pull-through
// logic lives in package cache.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/cache"
	"github.com/pullcache/pullcache/internal/logging"
	"github.com/pullcache/pullcache/internal/metrics"
	"github.com/pullcache/pullcache/internal/repoglob"
)

// Upstream is the router's view of a configured upstream.
type Upstream struct {
	Name    string // the registry host clients name, such as docker.io
	Default bool   // requests that name no registry go here
	// DockerHub adds library/ to one-component names.
	DockerHub bool
	// Allow and Deny are the upstream's repository patterns; see
	// checkRepositoryAllowed.
	Allow, Deny []*repoglob.Glob
}

// Options configures a Server.
type Options struct {
	Cache     *cache.Cache
	Upstreams []Upstream
	Logger    *slog.Logger // nil discards logs
	// BlobRedirect, when set, returns the URL that GETs of stored blobs are
	// redirected to with a 307, so that the bytes come from the store
	// directly.
	BlobRedirect func(ctx context.Context, d digest.Digest) (string, error)
	// Auth checks client logins; nil leaves the registry port open.
	Auth *Auth
}

// Server is an http.Handler for the /v2/ API.
type Server struct {
	cache           *cache.Cache
	upstreams       map[string]Upstream
	defaultUpstream string
	log             *slog.Logger
	blobRedirect    func(ctx context.Context, d digest.Digest) (string, error)
	auth            *Auth
}

var _ http.Handler = (*Server)(nil)

// New returns a server for the given cache and upstreams.
func New(o Options) *Server {
	s := &Server{
		cache:     o.Cache,
		upstreams: make(map[string]Upstream, len(o.Upstreams)),
		log:       o.Logger,
		auth:      o.Auth,
	}
	s.blobRedirect = o.BlobRedirect
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, u := range o.Upstreams {
		s.upstreams[u.Name] = u
		if u.Default {
			s.defaultUpstream = u.Name
		}
	}
	return s
}

func requestID(r *http.Request) string {
	return logging.RequestID(r.Context())
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ServeHTTP sets the headers every response carries, routes the request and
// writes any error it returns.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := newRequestID()
	r = r.WithContext(logging.WithRequestID(r.Context(), id))
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.Header().Set("X-Request-Id", id)

	rt, err := s.route(r)
	if authErr := s.authorize(w, r, rt); authErr != nil {
		err = authErr
	}
	if err == nil {
		// The routed request also goes to writeError, whose messages name
		// the repository and reference.
		r = withRoute(r, rt)
		metrics.NoteUpstream(r.Context(), rt.upstream)
		err = s.serve(w, r, rt)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) route(r *http.Request) (*route, error) {
	if r.URL.Path != "/v2" && !strings.HasPrefix(r.URL.Path, "/v2/") {
		return nil, newError(http.StatusNotFound, "NAME_UNKNOWN", "no registry API endpoint at %s; the API is under /v2/", r.URL.Path)
	}
	return s.parseRoute(r)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt *route) error {
	if rt.namespace != "" {
		w.Header().Set("OCI-Namespace", rt.namespace)
	}

	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	if !read || rt.endpoint == endpointBlobUpload {
		return newError(http.StatusMethodNotAllowed, "UNSUPPORTED", "%s %s is not supported: pullcache is a read-only mirror; push to the upstream registry instead", r.Method, r.URL.Path)
	}

	switch rt.endpoint {
	case endpointPing:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write([]byte("{}"))
		}
		return nil
	case endpointCatalog:
		return s.serveCatalog(w, r)
	case endpointManifest:
		return s.serveManifest(w, r, rt)
	case endpointBlob:
		return s.serveBlob(w, r, rt)
	case endpointTags:
		return s.serveTags(w, r, rt)
	case endpointReferrers:
		return s.serveReferrers(w, r, rt)
	}
	return newError(http.StatusNotFound, "NAME_UNKNOWN", "no registry API endpoint at %s", r.URL.Path)
}

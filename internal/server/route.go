package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
)

type endpoint int

const (
	endpointPing endpoint = iota
	endpointCatalog
	endpointManifest
	endpointBlob
	endpointBlobUpload
	endpointTags
	endpointReferrers
)

// route is a parsed /v2/ request: which upstream, which repository there,
// and which endpoint.
type route struct {
	endpoint endpoint
	upstream string
	// repo is the repository name in upstream's namespace (library/ added for
	// one-component Docker Hub names).
	repo string
	// clientRepo is the name as the client wrote it, after the registry
	// host prefix.
	clientRepo string
	ref        string // tag or digest, for manifests
	digest     digest.Digest
	// namespace is the registry the ns query parameter named, if any.
	namespace string
}

func (rt *route) describe() string {
	switch rt.endpoint {
	case endpointManifest:
		sep := ":"
		if strings.Contains(rt.ref, ":") {
			sep = "@"
		}
		return "manifest " + rt.repo + sep + rt.ref
	case endpointBlob:
		return "blob " + rt.repo + "@" + rt.digest.String()
	case endpointReferrers:
		return "referrers of " + rt.repo + "@" + rt.digest.String()
	default:
		return "repository " + rt.repo
	}
}

type routeKey struct{}

func withRoute(r *http.Request, rt *route) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), routeKey{}, rt))
}

func routeFrom(r *http.Request) *route {
	rt, _ := r.Context().Value(routeKey{}).(*route)
	return rt
}

// parseRoute splits a /v2/ path into endpoint, name and reference, chooses
// the upstream and validates every part before anything touches the store
// or an upstream.
func (s *Server) parseRoute(r *http.Request) (*route, error) {
	path := strings.TrimPrefix(r.URL.Path, "/v2")
	if path == "" || path == "/" {
		return &route{endpoint: endpointPing}, nil
	}
	path = strings.TrimPrefix(path, "/")
	if path == "_catalog" {
		return &route{endpoint: endpointCatalog}, nil
	}

	rt := &route{}
	var name string
	switch {
	case cutLast(path, "/blobs/uploads", &name, nil):
		rt.endpoint = endpointBlobUpload
	case cutLast(path, "/manifests/", &name, &rt.ref):
		rt.endpoint = endpointManifest
	case cutLast(path, "/blobs/", &name, &rt.ref):
		rt.endpoint = endpointBlob
	case cutLast(path, "/referrers/", &name, &rt.ref):
		rt.endpoint = endpointReferrers
	case strings.HasSuffix(path, "/tags/list"):
		rt.endpoint = endpointTags
		name = strings.TrimSuffix(path, "/tags/list")
	default:
		return nil, newError(http.StatusNotFound, "NAME_UNKNOWN", "no registry API endpoint at %s", r.URL.Path)
	}

	if err := s.chooseUpstream(r, rt, name); err != nil {
		return nil, err
	}
	if err := rt.validateReference(); err != nil {
		return nil, err
	}
	return rt, nil
}

// cutLast splits path at the last occurrence of sep into name and rest.
// A name may itself contain "manifests" or "blobs" as a component, so the
// last occurrence is the endpoint.
func cutLast(path, sep string, name, rest *string) bool {
	i := strings.LastIndex(path, sep)
	if i <= 0 {
		return false
	}
	*name = path[:i]
	if rest != nil {
		*rest = path[i+len(sep):]
		return *rest != "" && !strings.Contains(*rest, "/")
	}
	return true
}

func (rt *route) validateReference() error {
	switch rt.endpoint {
	case endpointManifest:
		if strings.Contains(rt.ref, ":") {
			d, err := digest.Parse(rt.ref)
			if err != nil {
				return newError(http.StatusBadRequest, "DIGEST_INVALID", "invalid digest %q: %v", rt.ref, err)
			}
			rt.digest = d
			return nil
		}
		if !validTag(rt.ref) {
			return newError(http.StatusBadRequest, "TAG_INVALID", "invalid tag %q: a tag is 1 to 128 characters of [A-Za-z0-9_.-] and does not start with . or -", rt.ref)
		}
	case endpointBlob, endpointReferrers:
		d, err := digest.Parse(rt.ref)
		if err != nil {
			return newError(http.StatusBadRequest, "DIGEST_INVALID", "invalid digest %q: %v", rt.ref, err)
		}
		rt.digest = d
	}
	return nil
}

// chooseUpstream picks the upstream: containerd's ns query parameter,
// else a first path component that is a registry host, else the default
// upstream. A registry that is not configured, or a repository that the
// upstream's allow and deny patterns exclude, is rejected here, so no
// connection is ever made for it.
func (s *Server) chooseUpstream(r *http.Request, rt *route, name string) error {
	if r.URL.Query().Has("ns") {
		ns := r.URL.Query().Get("ns")
		if !hostPattern.MatchString(ns) {
			return newError(http.StatusBadRequest, "NAME_INVALID", "invalid ns parameter %q: it must be a registry host such as docker.io", ns)
		}
		rt.namespace = ns
		// Host names compare without regard to case, and configured
		// upstream names are lower case.
		rt.upstream = strings.ToLower(ns)
		// A mirror URL with the registry in its path, such as
		// http://mirror/v2/ghcr.io in a hosts.toml, repeats the registry
		// before the repository. That component is not part of the name.
		if first, rest, found := strings.Cut(name, "/"); found && strings.EqualFold(first, ns) {
			name = rest
		}
	} else if first, rest, found := strings.Cut(name, "/"); found && isRegistryHost(first) {
		if !hostPattern.MatchString(first) {
			return newError(http.StatusBadRequest, "NAME_INVALID", "invalid registry host %q in the repository path", first)
		}
		rt.upstream = strings.ToLower(first)
		name = rest
	} else {
		rt.upstream = s.defaultUpstream
	}

	up, ok := s.upstreams[rt.upstream]
	if !ok {
		if rt.upstream == "" {
			return newError(http.StatusNotFound, "NAME_UNKNOWN", "no default upstream is configured; name the registry in the path or set default: true on one entry of upstreams")
		}
		return newError(http.StatusNotFound, "NAME_UNKNOWN", "registry %s is not configured; add an entry with name: %s to upstreams to mirror it", rt.upstream, rt.upstream)
	}

	if !validRepositoryName(name) {
		return newError(http.StatusBadRequest, "NAME_INVALID", "invalid repository name %q: components of [a-z0-9] joined by ., _, __ or -, separated by /, at most %d characters", name, maxNameLength)
	}
	rt.clientRepo = name
	rt.repo = name
	if up.DockerHub && !strings.Contains(name, "/") {
		rt.repo = "library/" + name
	}
	if len(rt.repo) > maxNameLength {
		return newError(http.StatusBadRequest, "NAME_INVALID", "invalid repository name %q: longer than %d characters with library/ added", name, maxNameLength)
	}
	return checkRepositoryAllowed(up, rt.repo)
}

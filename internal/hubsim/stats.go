package hubsim

import (
	"maps"
	"sync"

	"github.com/opencontainers/go-digest"
)

// Stats is a snapshot of the hub's request counters since New or the last
// ResetStats. The request counters count every request that reached the
// route, whatever the response, including responses from a fault.
type Stats struct {
	Pings          int // GET /v2/
	ManifestGets   int
	ManifestHeads  int
	BlobGets       int // blob GETs on the registry, redirected or not
	BlobHeads      int
	TokenRequests  int // GET and POST /token
	CDNGets        int // GETs of presigned URLs, on the CDN or on the registry's relative-redirect path
	TagLists       int
	ReferrersGets  int
	FaultsInjected int // responses from a Fault
	RateLimited    int // manifest GETs refused with 429 TOOMANYREQUESTS because the quota was spent

	// ManifestGetsByRepo counts manifest GETs per repository name.
	ManifestGetsByRepo map[string]int
	// ManifestHeadsByRepo counts manifest HEADs per repository name.
	ManifestHeadsByRepo map[string]int
	// BlobGetsByDigest counts blob GETs on the registry per digest.
	BlobGetsByDigest map[digest.Digest]int
	// CDNGetsByDigest counts CDN GETs per digest.
	CDNGetsByDigest map[digest.Digest]int
	// Pulls counts pulls charged per identity: the docker-ratelimit-source
	// value, which is the client address for anonymous pulls and the account
	// id for accounts. Only successful manifest GETs are charged.
	Pulls map[string]int
	// Requests counts every request by "METHOD PATH", on all listeners.
	Requests map[string]int
}

// PullsBy returns the pulls charged to identity, which is a
// docker-ratelimit-source value (client address or account id).
func (s Stats) PullsBy(identity string) int {
	return s.Pulls[identity]
}

// statsRecorder accumulates Stats under a mutex.
type statsRecorder struct {
	mu sync.Mutex
	s  Stats
}

func newStatsRecorder() *statsRecorder {
	r := &statsRecorder{}
	r.reset()
	return r
}

func (r *statsRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s = Stats{
		ManifestGetsByRepo:  map[string]int{},
		ManifestHeadsByRepo: map[string]int{},
		BlobGetsByDigest:    map[digest.Digest]int{},
		CDNGetsByDigest:     map[digest.Digest]int{},
		Pulls:               map[string]int{},
		Requests:            map[string]int{},
	}
}

// update runs fn on the counters under the lock.
func (r *statsRecorder) update(fn func(s *Stats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(&r.s)
}

func (r *statsRecorder) countRequest(key string) {
	r.update(func(s *Stats) { s.Requests[key]++ })
}

func (r *statsRecorder) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.s
	out.ManifestGetsByRepo = maps.Clone(r.s.ManifestGetsByRepo)
	out.ManifestHeadsByRepo = maps.Clone(r.s.ManifestHeadsByRepo)
	out.BlobGetsByDigest = maps.Clone(r.s.BlobGetsByDigest)
	out.CDNGetsByDigest = maps.Clone(r.s.CDNGetsByDigest)
	out.Pulls = maps.Clone(r.s.Pulls)
	out.Requests = maps.Clone(r.s.Requests)
	return out
}

// Stats returns a copy of the counters.
func (h *Hub) Stats() Stats {
	return h.stats.snapshot()
}

// ResetStats zeroes the counters. It does not reset the rate limit: use
// ResetRateLimits for that.
func (h *Hub) ResetStats() {
	h.stats.reset()
}

// Package cache is the pull-through logic: it serves manifests and blobs
// from the store, revalidates tags with upstream HEAD requests, fetches what
// is missing once however many clients ask, and serves stored content when
// upstream fails.
package cache

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/upstream"
)

// Status is the source of a response, sent to clients as X-Cache-Status.
type Status string

const (
	StatusHit         Status = "HIT"         // from the store, no upstream request
	StatusRevalidated Status = "REVALIDATED" // an upstream HEAD confirmed the stored digest
	StatusMiss        Status = "MISS"        // fetched now, or joined a fetch in progress
	StatusStale       Status = "STALE"       // stored copy served because upstream failed or deleted it
	StatusBypass      Status = "BYPASS"      // streamed from upstream without storing
)

// Upstream is the part of *upstream.Registry that the cache uses. Tests can
// wrap a registry to inject faults.
type Upstream interface {
	Name() string
	HeadManifest(ctx context.Context, repo, ref string) (upstream.Descriptor, error)
	GetManifest(ctx context.Context, repo, ref string) (upstream.Manifest, error)
	GetBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error)
	HeadBlob(ctx context.Context, repo string, d digest.Digest) (upstream.Descriptor, error)
	GetReferrers(ctx context.Context, repo string, d digest.Digest, artifactType string) (upstream.Manifest, error)
	ListTags(ctx context.Context, repo, rawQuery string) ([]byte, string, error)
	RateLimit() (upstream.RateLimit, bool)
}

// Remote is one configured upstream with its cache settings.
type Remote struct {
	Client Upstream
	// TagTTL is how long a stored tag is served without asking upstream.
	// Zero revalidates on every request.
	TagTTL time.Duration
	// QuotaReserve holds back manifest GETs for moved tags while the
	// upstream reports this many pulls left or fewer: the new digest comes
	// from a fallback, else the stored one is served as STALE. At zero it
	// applies only once no pull is left.
	QuotaReserve int
	// Fallbacks serve this upstream's content by digest when it fails, in
	// order.
	Fallbacks []Fallback
}

// Options configures a Cache. Store, SpoolDir and Remotes are required.
type Options struct {
	Store storage.Store
	// SpoolDir holds the unlinked temporary files that concurrent clients
	// read a blob from while it is being fetched. It must be writable.
	SpoolDir string
	Remotes  map[string]Remote
	// UpstreamAuthoritative makes a stored tag that upstream deleted (404)
	// return 404 too, instead of being served as STALE.
	UpstreamAuthoritative bool
	// MaxManifestSize bounds stored manifests; default 4 MiB.
	MaxManifestSize int64
	// MaxUpstreamFetches bounds concurrent upstream transfers; default 64.
	MaxUpstreamFetches int
	// FetchQueueWait is how long a fetch waits for a transfer slot before
	// failing with ErrQueueFull; default 30s.
	FetchQueueWait time.Duration
	Logger         *slog.Logger // nil discards logs
	Clock          func() time.Time
	// Observer receives fallback and quota reserve events; nil records nothing.
	Observer Observer
	// Access learns which stored objects are read and written, for
	// eviction; nil records nothing.
	Access AccessRecorder
	// WriteErrors counts failed store writes; nil counts nothing.
	WriteErrors WriteObserver
	// OnCoalesced, when set, is called for each request that joined an
	// upstream fetch in progress; kind is "tag", "manifest" or "blob".
	OnCoalesced func(kind string)
}

// Cache is safe for concurrent use.
type Cache struct {
	store           storage.Store
	spoolDir        string
	remotes         map[string]Remote
	authoritative   bool
	maxManifestSize int64
	fetchSlots      chan struct{}
	queueWait       time.Duration
	log             *slog.Logger
	now             func() time.Time
	observer        Observer
	access          AccessRecorder
	writes          *writeFailures
	onCoalesced     func(kind string)

	mu        sync.Mutex
	blobs     map[digest.Digest]*blobFetch
	manifests flightGroup[manifestRecord]
	tags      flightGroup[tagResult]
	breakers  map[string]*breaker
	// noHeadDigest records the upstreams (name → struct{}) whose manifest
	// HEAD lacks Docker-Content-Digest; their tags are revalidated by GET.
	noHeadDigest sync.Map
}

// New validates the options and returns a cache.
func New(o Options) (*Cache, error) {
	if o.Store == nil {
		return nil, fmt.Errorf("cache: no store configured")
	}
	if len(o.Remotes) == 0 {
		return nil, fmt.Errorf("cache: no upstream configured")
	}
	if o.SpoolDir == "" {
		return nil, fmt.Errorf("cache: no spool directory configured")
	}
	if err := os.MkdirAll(o.SpoolDir, 0o755); err != nil {
		return nil, fmt.Errorf("cache: create spool directory: %w", err)
	}
	if o.MaxManifestSize <= 0 {
		o.MaxManifestSize = 4 << 20
	}
	if o.MaxUpstreamFetches <= 0 {
		o.MaxUpstreamFetches = 64
	}
	if o.FetchQueueWait <= 0 {
		o.FetchQueueWait = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.Access == nil {
		o.Access = noAccessRecorder{}
	}
	if o.WriteErrors == nil {
		o.WriteErrors = noWriteObserver{}
	}

	c := &Cache{
		store:           o.Store,
		spoolDir:        o.SpoolDir,
		remotes:         o.Remotes,
		authoritative:   o.UpstreamAuthoritative,
		maxManifestSize: o.MaxManifestSize,
		fetchSlots:      make(chan struct{}, o.MaxUpstreamFetches),
		queueWait:       o.FetchQueueWait,
		log:             o.Logger,
		now:             o.Clock,
		observer:        o.Observer,
		access:          o.Access,
		writes:          &writeFailures{log: o.Logger, observer: o.WriteErrors, now: o.Clock},
		blobs:           make(map[digest.Digest]*blobFetch),
		breakers:        make(map[string]*breaker),
	}
	if o.OnCoalesced != nil {
		c.onCoalesced = o.OnCoalesced
		c.tags.onJoin = func() { o.OnCoalesced("tag") }
		c.manifests.onJoin = func() { o.OnCoalesced("manifest") }
	}
	return c, nil
}

func (c *Cache) remote(name string) (Remote, error) {
	r, ok := c.remotes[name]
	if !ok {
		return Remote{}, fmt.Errorf("%w: %q", ErrUnknownUpstream, name)
	}
	return r, nil
}

// acquireFetchSlot waits for one of the MaxUpstreamFetches transfer slots.
func (c *Cache) acquireFetchSlot(ctx context.Context) (release func(), err error) {
	timer := time.NewTimer(c.queueWait)
	defer timer.Stop()

	select {
	case c.fetchSlots <- struct{}{}:
		return func() { <-c.fetchSlots }, nil
	case <-timer.C:
		return nil, ErrQueueFull
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

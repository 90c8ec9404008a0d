package cache

// Observer receives the cache's events for metrics. Its methods must not
// block. A nil Options.Observer records nothing.
type Observer interface {
	// FallbackFetch is called once per fetch from a fallback.
	FallbackFetch(FallbackEvent)
	// ReserveAnswer is called each time the quota reserve held back a
	// manifest GET for a moved tag. Outcome is ReserveFallback or
	// ReserveStale.
	ReserveAnswer(upstream, outcome string)
}

// FallbackEvent is one fetch from a fallback.
type FallbackEvent struct {
	Upstream string // the upstream the content belongs to
	Source   string // the fallback's name
	Kind     string // "manifest" or "blob"
	Outcome  string // FallbackOK, FallbackMismatch, FallbackNotFound or FallbackError
}

// Outcomes of the quota reserve policy, for the observer.
const (
	ReserveFallback = "fallback" // the moved tag's new digest came from a fallback
	ReserveStale    = "stale"    // the stored digest was served as STALE
)

type nopObserver struct{}

func (nopObserver) FallbackFetch(FallbackEvent)  {}
func (nopObserver) ReserveAnswer(string, string) {}

package hubsim

import (
	"cmp"
	"net/http"
	"sync"
	"time"
)

// FaultKind selects what an injected fault does to a request.
type FaultKind int

const (
	// FaultQuota responds 429 with Docker Hub's pull-limit body
	// (TOOMANYREQUESTS and the increase-rate-limit link) and
	// ratelimit-remaining 0, whatever the real count is.
	FaultQuota FaultKind = iota + 1

	// FaultAbuse responds 429 with the short plain body of Docker Hub's
	// abuse limit, "Too Many Requests (HAP429)", and no ratelimit headers.
	FaultAbuse

	// FaultServerError responds Fault.Status (default 503) with Fault.Message
	// as a plain-text body, empty by default, as a load balancer in front of
	// the registry does.
	FaultServerError

	// FaultStatus responds Fault.Status with an OCI error body of Fault.Code
	// and Fault.Message, for example 403 DENIED or 404 NAME_UNKNOWN. On the
	// token service the body is {"details": Message} instead.
	FaultStatus

	// FaultDrop closes the connection without sending a response.
	FaultDrop

	// FaultBlackHole accepts the request and never responds, until the
	// client gives up or the hub is closed.
	FaultBlackHole

	// FaultSlow sends the body in chunks of Fault.ChunkSize bytes and waits
	// Fault.Delay before each chunk.
	FaultSlow

	// FaultTruncate sends the full Content-Length, then only Fault.After
	// bytes (default half the body), then resets the connection.
	FaultTruncate

	// FaultCorrupt sends the full length with one byte, in the middle of the
	// body, inverted, so the digest no longer matches.
	FaultCorrupt
)

var faultKindNames = map[FaultKind]string{
	FaultQuota:       "quota",
	FaultAbuse:       "abuse",
	FaultServerError: "server-error",
	FaultStatus:      "status",
	FaultDrop:        "drop",
	FaultBlackHole:   "black-hole",
	FaultSlow:        "slow",
	FaultTruncate:    "truncate",
	FaultCorrupt:     "corrupt",
}

func (k FaultKind) String() string {
	if name, ok := faultKindNames[k]; ok {
		return name
	}
	return "unknown"
}

// isBodyFault reports whether the fault changes how a body is sent, rather
// than replacing the response. Body faults apply only to responses that
// carry content: a blob GET that redirects to the CDN passes them on to the
// CDN request.
func (k FaultKind) isBodyFault() bool {
	return k == FaultSlow || k == FaultTruncate || k == FaultCorrupt
}

// Target is a set of request kinds a fault applies to.
type Target uint

const (
	// TargetManifests is manifest GET and HEAD on the registry.
	TargetManifests Target = 1 << iota
	// TargetBlobs is blob GET and HEAD on the registry and the CDN GETs they
	// redirect to.
	TargetBlobs
	// TargetCDN is the CDN GETs alone.
	TargetCDN
	// TargetToken is the token service.
	TargetToken
	// TargetOther is GET /v2/, tag lists and referrers.
	TargetOther

	// TargetAll is every request. A zero Target means the same.
	TargetAll = TargetManifests | TargetBlobs | TargetCDN | TargetToken | TargetOther
)

// stage is the part of the hub that handles a request.
type stage int

const (
	stageManifest stage = iota
	stageBlob
	stageCDN
	stageToken
	stageOther
)

// targets returns the Target bits that select requests of this stage.
func (s stage) targets() Target {
	switch s {
	case stageManifest:
		return TargetManifests
	case stageBlob:
		return TargetBlobs
	case stageCDN:
		return TargetBlobs | TargetCDN
	case stageToken:
		return TargetToken
	default:
		return TargetOther
	}
}

// Fault is an injected failure. Faults set with SetFault are matched in the
// order they were set, and the first that matches a request applies.
type Fault struct {
	Kind FaultKind

	// Target selects the request kinds. Zero means TargetAll.
	Target Target

	// Method is "GET" or "HEAD" to apply to that method only; empty means
	// any method.
	Method string

	// Repo, when set, applies the fault only to that repository's manifest,
	// blob, tag-list and referrers requests. CDN and token requests carry no
	// repository and never match a fault with Repo set.
	Repo string

	// Count is how many matching requests the fault applies to before it is
	// removed. Zero means until ClearFaults.
	Count int

	// Status is the HTTP status of FaultServerError (default 503) and
	// FaultStatus (required).
	Status int

	// Code and Message form the error body of FaultStatus; Message alone is
	// the plain-text body of FaultServerError.
	Code, Message string

	// Delay and ChunkSize shape FaultSlow. ChunkSize defaults to 16 KiB.
	Delay     time.Duration
	ChunkSize int

	// After is how many body bytes FaultTruncate sends before it resets the
	// connection. Zero means half the body. A body no longer than After is
	// sent whole. For FaultCorrupt, a non-zero After is the offset of the
	// inverted byte.
	After int64
}

// matches reports whether f applies to a request of stage st.
func (f *Fault) matches(r *http.Request, st stage, repo string, body bool) bool {
	target := f.Target
	if target == 0 {
		target = TargetAll
	}
	if target&st.targets() == 0 {
		return false
	}
	if f.Method != "" && f.Method != r.Method {
		return false
	}
	if f.Repo != "" && f.Repo != repo {
		return false
	}
	return f.Kind.isBodyFault() == body
}

// activeFault is a set fault with its remaining count (0 for unlimited).
type activeFault struct {
	fault Fault
	left  int
}

// faultSet holds the faults set with SetFault.
type faultSet struct {
	mu     sync.Mutex
	active []*activeFault
}

// take returns the first matching fault and uses up one of its count.
func (s *faultSet) take(r *http.Request, st stage, repo string, body bool) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()

	for i, af := range s.active {
		if !af.fault.matches(r, st, repo, body) {
			continue
		}

		if af.left > 0 {
			af.left--
			if af.left == 0 {
				s.active = append(s.active[:i:i], s.active[i+1:]...)
			}
		}
		return af.fault, true
	}
	return Fault{}, false
}

// SetFault adds a fault. Faults stay until their Count is used up or
// ClearFaults.
func (h *Hub) SetFault(f Fault) {
	h.faults.mu.Lock()
	defer h.faults.mu.Unlock()
	h.faults.active = append(h.faults.active, &activeFault{fault: f, left: f.Count})
}

// ClearFaults removes every fault.
func (h *Hub) ClearFaults() {
	h.faults.mu.Lock()
	defer h.faults.mu.Unlock()
	h.faults.active = nil
}

// takeBodyFault returns the body fault for a response that carries content.
func (h *Hub) takeBodyFault(r *http.Request, st stage, repo string) *Fault {
	f, ok := h.faults.take(r, st, repo, true)
	if !ok {
		return nil
	}
	h.stats.update(func(s *Stats) { s.FaultsInjected++ })
	h.logf("fault %s on %s %s", f.Kind, r.Method, r.URL.Path)
	return &f
}

// applyFault responds to the request with a matching response fault, if any,
// and reports whether it did. id is whom a FaultQuota body names; a zero
// id means the client address.
func (h *Hub) applyFault(w http.ResponseWriter, r *http.Request, st stage, repo string, id identity) bool {
	f, ok := h.faults.take(r, st, repo, false)
	if !ok {
		return false
	}
	h.stats.update(func(s *Stats) { s.FaultsInjected++ })
	h.logf("fault %s on %s %s", f.Kind, r.Method, r.URL.Path)

	if id.source == "" {
		id = h.anonymousIdentity(r)
		id.unlimited = false
	}

	switch f.Kind {
	case FaultQuota:
		h.writeQuotaExceeded(w, id)
	case FaultAbuse:
		writePlain(w, http.StatusTooManyRequests, "Too Many Requests (HAP429)")
	case FaultServerError:
		writePlain(w, cmp.Or(f.Status, http.StatusServiceUnavailable), f.Message)
	case FaultStatus:
		h.writeStatusFault(w, r, st, repo, f)
	case FaultDrop:
		dropConnection(w)
	case FaultBlackHole:
		select {
		case <-r.Context().Done():
		case <-h.closing:
		}
		dropConnection(w)
	default:
		h.logf("fault kind %d is not a response fault; ignored", int(f.Kind))
		return false
	}
	return true
}

// writeQuotaExceeded writes Docker Hub's pull-limit 429.
func (h *Hub) writeQuotaExceeded(w http.ResponseWriter, id identity) {
	h.setRateLimitHeaders(w, identity{source: id.source, limit: id.limit}, 0)
	message := "You have reached your pull rate limit as '" + id.source + "'. " +
		"You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"
	writeError(w, http.StatusTooManyRequests, codeTooManyRequests, message, nil)
}

func (h *Hub) writeStatusFault(w http.ResponseWriter, r *http.Request, st stage, repo string, f Fault) {
	status := cmp.Or(f.Status, http.StatusForbidden)
	if st == stageToken {
		writeTokenError(w, status, cmp.Or(f.Message, http.StatusText(status)))
		return
	}

	code := cmp.Or(f.Code, defaultCode(status))
	message := cmp.Or(f.Message, http.StatusText(status))
	if status == http.StatusUnauthorized {
		scope := ""
		if repo != "" {
			scope = "repository:" + repo + ":pull"
		}
		h.challenge(w, r, scope, "", message, nil)
		return
	}
	writeError(w, status, code, message, nil)
}

func defaultCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return codeUnauthorized
	case http.StatusForbidden:
		return codeDenied
	case http.StatusNotFound:
		return codeNameUnknown
	case http.StatusTooManyRequests:
		return codeTooManyRequests
	}
	return "UNKNOWN"
}

func writePlain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", itoa(int64(len(body))))
	w.WriteHeader(status)
	w.Write([]byte(body))
}

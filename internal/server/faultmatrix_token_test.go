package server_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// tokenFaultProxy is a proxy in front of hubsim that changes the body of
// token responses in the way of a hubsim body fault (slow, truncated or
// wrong bytes), which hubsim itself applies only to manifests and blobs.
// It rewrites the realm of the registry's challenges to itself, so that
// the mirror fetches its tokens through it.
type tokenFaultProxy struct {
	hubURL string
	srv    *httptest.Server
	proxy  *httputil.ReverseProxy

	mu      sync.Mutex
	fault   *hubsim.Fault // nil passes token responses through unchanged
	applied int
}

func startTokenFaultProxy(t *testing.T, hubURL string) *tokenFaultProxy {
	t.Helper()
	target, err := url.Parse(hubURL)
	if err != nil {
		t.Fatalf("parse hub URL: %v", err)
	}
	p := &tokenFaultProxy{hubURL: hubURL, proxy: httputil.NewSingleHostReverseProxy(target)}
	p.proxy.ModifyResponse = func(resp *http.Response) error {
		values := resp.Header.Values("WWW-Authenticate")
		resp.Header.Del("WWW-Authenticate")
		for _, v := range values {
			resp.Header.Add("WWW-Authenticate", strings.ReplaceAll(v, p.hubURL, p.srv.URL))
		}
		return nil
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *tokenFaultProxy) set(f hubsim.Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = &f
}

func (p *tokenFaultProxy) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = nil
}

func (p *tokenFaultProxy) appliedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applied
}

// take returns the fault to apply to one token response, if any.
func (p *tokenFaultProxy) take() *hubsim.Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fault == nil {
		return nil
	}
	p.applied++
	f := *p.fault
	return &f
}

func (p *tokenFaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/token" {
		p.proxy.ServeHTTP(w, r)
		return
	}

	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.hubURL+r.URL.RequestURI(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}

	for name, values := range resp.Header {
		w.Header()[name] = values
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	fault := (*hubsim.Fault)(nil)
	if resp.StatusCode == http.StatusOK {
		fault = p.take()
	}
	if fault == nil {
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
		return
	}

	switch fault.Kind {
	case hubsim.FaultSlow:
		w.WriteHeader(resp.StatusCode)
		for chunk := range chunks(body, max(fault.ChunkSize, 1)) {
			time.Sleep(fault.Delay)
			w.Write(chunk)
			w.(http.Flusher).Flush()
		}
	case hubsim.FaultTruncate:
		w.WriteHeader(resp.StatusCode)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	case hubsim.FaultCorrupt:
		corrupt := bytes.Clone(body)
		corrupt[tokenMiddle(corrupt)] ^= 0xff
		w.WriteHeader(resp.StatusCode)
		w.Write(corrupt)
	default:
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	}
}

// tokenMiddle returns the offset of the middle byte of the "token" value
// in a token response, or of the whole body when it has none. A changed
// byte there makes the token invalid, while one elsewhere may hit a field
// that clients do not read, such as access_token or issued_at.
func tokenMiddle(body []byte) int {
	const key = `"token":"`
	start := bytes.Index(body, []byte(key))
	if start < 0 {
		return len(body) / 2
	}
	start += len(key)
	length := bytes.IndexByte(body[start:], '"')
	if length <= 0 {
		return len(body) / 2
	}
	return start + length/2
}

// chunks yields data in pieces of at most size bytes.
func chunks(data []byte, size int) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(data) > 0 {
			n := min(size, len(data))
			if !yield(data[:n]) {
				return
			}
			data = data[n:]
		}
	}
}

// faultInjector applies a matrix fault to a mirror's upstream: through
// hubsim, or through a tokenFaultProxy for the body faults on tokens.
type faultInjector struct {
	fault hubsim.Fault
	proxy *tokenFaultProxy
}

// newFaultInjector returns the injector and the mirror configuration it
// needs.
func newFaultInjector(t *testing.T, fault hubsim.Fault, target hubsim.Target) (*faultInjector, mirrorConfig) {
	fault.Target = target
	fi := &faultInjector{fault: fault}
	cfg := mirrorConfig{upstreamTimeout: 2 * time.Second}
	if target == hubsim.TargetToken && isBodyFault(fault.Kind) {
		cfg.frontHub = func(hubURL string) string {
			fi.proxy = startTokenFaultProxy(t, hubURL)
			return fi.proxy.srv.URL
		}
	}
	return fi, cfg
}

func (fi *faultInjector) set(m *mirror) {
	if fi.proxy != nil {
		fi.proxy.set(fi.fault)
		return
	}
	m.hub.SetFault(fi.fault)
}

func (fi *faultInjector) clear(m *mirror) {
	if fi.proxy != nil {
		fi.proxy.clear()
		return
	}
	m.hub.ClearFaults()
}

// applied returns how many responses the fault changed.
func (fi *faultInjector) applied(m *mirror) int {
	if fi.proxy != nil {
		return fi.proxy.appliedCount()
	}
	return m.hub.Stats().FaultsInjected
}

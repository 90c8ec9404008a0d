package hubsim

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ServiceName names one of the hub's listeners.
type ServiceName string

// The hub's listeners: the registry always, the token service and the CDN
// only when Options.TokenAddr and Options.CDNAddr are set.
const (
	ServiceRegistry ServiceName = "registry"
	ServiceToken    ServiceName = "token"
	ServiceCDN      ServiceName = "cdn"
)

// service is one listener with its HTTP server. srv is nil while suspended.
type service struct {
	addr    string // the bound address, with the port chosen at first start
	handler http.Handler
	srv     *http.Server
}

// Start listens on addr (for example "127.0.0.1:0") for the registry, and on
// Options.TokenAddr and Options.CDNAddr when they are set, and serves until
// Close.
func (h *Hub) Start(addr string) error {
	h.mu.Lock()
	defer h.mu.Unlock()

	if len(h.services) > 0 {
		return errors.New("start hubsim: already started")
	}

	services := []struct {
		name    ServiceName
		addr    string
		handler http.Handler
	}{
		{ServiceRegistry, addr, h.Handler()},
		{ServiceToken, h.opts.TokenAddr, h.TokenHandler()},
		{ServiceCDN, h.opts.CDNAddr, h.CDNHandler()},
	}
	for _, w := range services {
		if w.addr == "" {
			continue
		}

		svc := &service{addr: w.addr, handler: w.handler}
		if err := h.listenLocked(svc); err != nil {
			h.closeServicesLocked()
			return fmt.Errorf("start hubsim %s on %s: %w", w.name, w.addr, err)
		}
		h.services[w.name] = svc
	}
	return nil
}

// listenLocked binds svc.addr and serves svc.handler on it. After the first
// bind svc.addr holds the chosen port, so Resume binds the same address.
func (h *Hub) listenLocked(svc *service) error {
	ln, err := net.Listen("tcp", svc.addr)
	if err != nil {
		return err
	}
	svc.addr = ln.Addr().String()

	svc.srv = &http.Server{
		Handler:           svc.handler,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func(srv *http.Server) {
		// Serve returns ErrServerClosed on Close, which needs no report.
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.logf("serve %s: %v", ln.Addr(), err)
		}
	}(svc.srv)
	return nil
}

func (h *Hub) closeServicesLocked() {
	for _, svc := range h.services {
		if svc.srv != nil {
			svc.srv.Close()
			svc.srv = nil
		}
	}
}

// Close stops every listener, closes open connections and releases requests
// held by a black-hole fault. It is safe to call more than once. A test that
// serves Handler through httptest should call Close before the httptest
// server's Close, which waits for black-holed requests.
func (h *Hub) Close() {
	h.closeOnce.Do(func() { close(h.closing) })

	h.mu.Lock()
	defer h.mu.Unlock()
	h.closeServicesLocked()
}

// Suspend closes one listener and its open connections, so that new
// connections are refused (ECONNREFUSED) until Resume. It plays a registry,
// token service or CDN that is down.
func (h *Hub) Suspend(name ServiceName) error {
	h.mu.Lock()
	defer h.mu.Unlock()

	svc := h.services[name]
	if svc == nil {
		return fmt.Errorf("suspend hubsim %s: service not started", name)
	}
	if svc.srv != nil {
		svc.srv.Close()
		svc.srv = nil
	}
	return nil
}

// Resume listens again, on the same address, on a service that Suspend
// stopped.
func (h *Hub) Resume(name ServiceName) error {
	h.mu.Lock()
	defer h.mu.Unlock()

	svc := h.services[name]
	if svc == nil {
		return fmt.Errorf("resume hubsim %s: service not started", name)
	}
	if svc.srv != nil {
		return nil
	}
	if err := h.listenLocked(svc); err != nil {
		return fmt.Errorf("resume hubsim %s on %s: %w", name, svc.addr, err)
	}
	return nil
}

// serviceURL returns http://HOST:PORT of a started service, or "".
func (h *Hub) serviceURL(name ServiceName) string {
	h.mu.Lock()
	defer h.mu.Unlock()

	svc := h.services[name]
	if svc == nil {
		return ""
	}
	return "http://" + svc.addr
}

// URL returns http://HOST:PORT of the registry, or "" before Start.
func (h *Hub) URL() string {
	return h.serviceURL(ServiceRegistry)
}

// TokenURL returns the token realm, http://HOST:PORT/token. Without a
// separate token service it is the registry's own /token, or "" before Start.
func (h *Hub) TokenURL() string {
	base := h.serviceURL(ServiceToken)
	if base == "" {
		base = h.serviceURL(ServiceRegistry)
	}
	if base == "" {
		return ""
	}
	return base + "/token"
}

// CDNURL returns http://HOST:PORT of the CDN, or "" without Options.CDNAddr.
func (h *Hub) CDNURL() string {
	return h.serviceURL(ServiceCDN)
}

// Handler returns the registry's handler, for use with httptest. Without
// Options.TokenAddr it also serves /token. Options.CDNAddr has no effect on
// a hub that is not started, because the CDN has no address to redirect to.
func (h *Hub) Handler() http.Handler {
	return h.withRequestLog(ServiceRegistry, http.HandlerFunc(h.serveRegistry))
}

// TokenHandler returns the token service's handler (auth.docker.io).
func (h *Hub) TokenHandler() http.Handler {
	return h.withRequestLog(ServiceToken, http.HandlerFunc(h.serveToken))
}

// CDNHandler returns the blob CDN's handler, which serves presigned URLs.
func (h *Hub) CDNHandler() http.Handler {
	return h.withRequestLog(ServiceCDN, http.HandlerFunc(h.serveCDN))
}

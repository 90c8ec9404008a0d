package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/server"
	"github.com/pullcache/pullcache/internal/tlsreload"
)

// newClientAuth loads the htpasswd file of the auth key. It returns nil
// when auth is not configured, which leaves the registry port open.
func newClientAuth(cfg config.Config, log *slog.Logger) (*server.Auth, error) {
	if cfg.Auth == nil {
		return nil, nil
	}
	auth, err := server.NewAuth(server.AuthOptions{
		Htpasswd:      cfg.Auth.Htpasswd,
		AnonymousRead: cfg.Auth.AnonymousRead,
		Logger:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("auth.htpasswd: %w", err)
	}
	log.Info("client authentication on", slog.String("htpasswd", cfg.Auth.Htpasswd), slog.Any("anonymous_read", cfg.Auth.AnonymousRead))
	return auth, nil
}

// newTLSConfig loads the certificate of the tls key. It returns nil when
// tls is not configured, which serves plain HTTP.
func newTLSConfig(cfg config.Config, log *slog.Logger) (*tls.Config, error) {
	if cfg.TLS == nil {
		return nil, nil
	}
	cert, err := tlsreload.New(tlsreload.Options{CertFile: cfg.TLS.Cert, KeyFile: cfg.TLS.Key, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	log.Info("TLS on for both ports", slog.String("cert", cfg.TLS.Cert))
	return cert.ServerConfig(), nil
}

// withTLS wraps a listener in TLS when tlsConfig is set. http.Server.Serve
// then speaks HTTP/2 to clients that offer it, as ServeTLS would.
func withTLS(listener net.Listener, tlsConfig *tls.Config) net.Listener {
	if tlsConfig == nil {
		return listener
	}
	return tls.NewListener(listener, tlsConfig)
}

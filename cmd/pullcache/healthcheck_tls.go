package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/pullcache/pullcache/internal/config"
)

// adminURLFromConfig returns the URL a health check on the same host uses
// for admin_listen: a wildcard address becomes loopback, and the scheme is
// https when tls is set, because tls covers both ports.
func adminURLFromConfig(cfg config.Config) string {
	scheme := "http"
	if cfg.TLS != nil {
		scheme = "https"
	}

	host, port, err := net.SplitHostPort(cfg.AdminListen)
	if err != nil {
		// Validation has checked admin_listen, so this is not reached;
		// the URL check after it reports the value.
		return scheme + "://" + cfg.AdminListen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// isLoopbackHost reports whether host is a loopback IP address or the
// name localhost.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// healthTLSConfig returns the TLS client configuration for a health check
// of host. certFile is the server's configured certificate file, or empty.
//
// A probe inside the server's container or pod connects to loopback, and
// a certificate names the service, not 127.0.0.1, so a host-name check
// would always fail there. For a loopback host the name check is replaced
// by a check that the server's certificate chains to a certificate in
// certFile: that file is the one the server serves, so a server presenting
// anything else fails. Other hosts, and loopback without certFile, get the
// standard verification, host name included, with certFile's certificates
// added to the system roots.
func healthTLSConfig(host, certFile string) (*tls.Config, error) {
	var configured []*x509.Certificate
	if certFile != "" {
		certs, err := readCertificates(certFile)
		if err != nil {
			return nil, err
		}
		configured = certs
	}

	if !isLoopbackHost(host) || len(configured) == 0 {
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		for _, c := range configured {
			roots.AddCert(c)
		}
		return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
	}

	roots := x509.NewCertPool()
	for _, c := range configured {
		roots.AddCert(c)
	}
	return &tls.Config{
		// InsecureSkipVerify turns off only the standard verification,
		// whose host-name check cannot pass on loopback.
		// VerifyConnection below does the chain check in its place and
		// fails the handshake when the chain does not verify.
		InsecureSkipVerify: true,
		VerifyConnection: func(state tls.ConnectionState) error {
			return verifyAgainstConfigured(state, roots)
		},
		MinVersion: tls.VersionTLS12,
	}, nil
}

// verifyAgainstConfigured checks that the server's certificate chains to
// roots and is valid now, without checking its names.
func verifyAgainstConfigured(state tls.ConnectionState, roots *x509.CertPool) error {
	if len(state.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	intermediates := x509.NewCertPool()
	for _, c := range state.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	_, err := state.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates})
	if err != nil {
		return fmt.Errorf("server certificate does not match the configured tls.cert: %w", err)
	}
	return nil
}

// readCertificates returns the certificates in a PEM file.
func readCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tls.cert: %w", err)
	}

	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse tls.cert %s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("tls.cert %s contains no PEM certificate", path)
	}
	return certs, nil
}

// Package tlsreload serves a TLS certificate from PEM files and loads them
// again when they change, so a renewed certificate (cert-manager, certbot,
// a rotated Kubernetes secret) takes effect without a restart.
package tlsreload

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultCheckInterval is the minimum time between two checks of the files
// for a new size, modification time or inode, made at TLS handshakes.
const DefaultCheckInterval = time.Second

// Options configures a Certificate.
type Options struct {
	CertFile string // PEM certificate chain, leaf first
	KeyFile  string // PEM private key of the leaf
	// CheckInterval is the minimum time between two checks of the files.
	// Zero means DefaultCheckInterval; a negative value checks on every
	// handshake.
	CheckInterval time.Duration
	Logger        *slog.Logger // nil discards logs
}

// Certificate holds the key pair loaded last. A pair that fails to load,
// for example because the certificate was written and the key not yet, is
// logged and the previous pair stays in use until the files load again.
type Certificate struct {
	certFile, keyFile string
	interval          time.Duration
	log               *slog.Logger

	mu        sync.Mutex
	cert      *tls.Certificate
	stamps    [2]fileStamp
	checkedAt time.Time
}

// fileStamp identifies one version of a file well enough to notice a
// rewrite or a renamed-in replacement.
type fileStamp struct {
	size    int64
	modTime time.Time
	inode   uint64
}

// New loads the key pair. It fails when either file cannot be read or the
// key does not match the certificate.
func New(o Options) (*Certificate, error) {
	c := &Certificate{certFile: o.CertFile, keyFile: o.KeyFile, interval: o.CheckInterval, log: o.Logger}
	if c.interval == 0 {
		c.interval = DefaultCheckInterval
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}

	cert, stamps, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert, c.stamps, c.checkedAt = cert, stamps, time.Now()
	return c, nil
}

// ServerConfig returns a TLS server configuration that takes its
// certificate from c, offers HTTP/2 and HTTP/1.1, and accepts TLS 1.2 and
// later.
func (c *Certificate) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// GetCertificate returns the current key pair, loading the files again
// first when they changed since the last check.
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if time.Since(c.checkedAt) < c.interval {
		return c.cert, nil
	}
	c.checkedAt = time.Now()

	stamps, err := c.stat()
	if err != nil {
		c.log.Error("TLS files unreadable; keeping the certificate loaded before", slog.Any("err", err))
		return c.cert, nil
	}
	if stamps == c.stamps {
		return c.cert, nil
	}

	cert, stamps, err := c.load()
	if err != nil {
		c.log.Warn("TLS files changed but do not load; keeping the certificate loaded before until they do", slog.Any("err", err))
		return c.cert, nil
	}
	c.cert, c.stamps = cert, stamps
	c.log.Info("TLS certificate reloaded", slog.String("cert", c.certFile), slog.Time("not_after", cert.Leaf.NotAfter))
	return c.cert, nil
}

// load reads both files and stamps them. The stamps are taken before the
// read, so a write that lands during the read is noticed at the next check.
func (c *Certificate) load() (*tls.Certificate, [2]fileStamp, error) {
	stamps, err := c.stat()
	if err != nil {
		return nil, stamps, err
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, stamps, fmt.Errorf("load TLS key pair %s and %s: %w", c.certFile, c.keyFile, err)
	}
	return &cert, stamps, nil
}

func (c *Certificate) stat() ([2]fileStamp, error) {
	var stamps [2]fileStamp
	for i, name := range []string{c.certFile, c.keyFile} {
		info, err := os.Stat(name)
		if err != nil {
			return stamps, fmt.Errorf("read TLS file: %w", err)
		}
		stamps[i] = fileStamp{size: info.Size(), modTime: info.ModTime(), inode: inodeOf(info)}
	}
	return stamps, nil
}

package tlsreload

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/testcert"
)

// newTestPair returns a self-signed certificate for 127.0.0.1 and its key.
func newTestPair(t *testing.T, serial int64) testcert.Pair {
	t.Helper()
	return testcert.New(t, serial, net.IPv4(127, 0, 0, 1))
}

// writeFileAtomic writes data to a new file and renames it over path, as
// certificate renewers do.
func writeFileAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatalf("rename %s: %v", tmp, err)
	}
}

// startTLSServer serves 200 over TLS with the reloading certificate, as
// the serve command does, and returns its URL. httptest's TLS server is not
// used because it installs a certificate of its own.
func startTLSServer(t *testing.T, c *Certificate) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go srv.Serve(tls.NewListener(listener, c.ServerConfig()))
	t.Cleanup(func() { srv.Close() })
	return "https://" + listener.Addr().String()
}

// servedSerial connects anew, trusting every pair given, and returns the
// serial number of the certificate the server presented.
func servedSerial(t *testing.T, url string, trusted ...testcert.Pair) int64 {
	t.Helper()
	roots := x509.NewCertPool()
	for _, p := range trusted {
		roots.AddCert(p.Cert)
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	defer transport.CloseIdleConnections()

	resp, err := (&http.Client{Transport: transport, Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		t.Fatalf("GET %s: no TLS peer certificate", url)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
}

func TestCertificateReloadsRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first, second := newTestPair(t, 1), newTestPair(t, 2)
	writeFileAtomic(t, certFile, first.CertPEM)
	writeFileAtomic(t, keyFile, first.KeyPEM)

	c, err := New(Options{CertFile: certFile, KeyFile: keyFile, CheckInterval: -1})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	url := startTLSServer(t, c)

	if got := servedSerial(t, url, first, second); got != 1 {
		t.Fatalf("before rotation: served serial %d, want 1", got)
	}

	// A renewer that writes the certificate first leaves a mismatched pair
	// for a moment: the old pair must stay in use.
	writeFileAtomic(t, certFile, second.CertPEM)
	if got := servedSerial(t, url, first, second); got != 1 {
		t.Errorf("certificate rotated, key not yet: served serial %d, want the old 1", got)
	}

	writeFileAtomic(t, keyFile, second.KeyPEM)
	if got := servedSerial(t, url, first, second); got != 2 {
		t.Errorf("after rotation: served serial %d, want 2", got)
	}
}

func TestCertificateKeepsPairWhenFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	pair := newTestPair(t, 7)
	writeFileAtomic(t, certFile, pair.CertPEM)
	writeFileAtomic(t, keyFile, pair.KeyPEM)
	c, err := New(Options{CertFile: certFile, KeyFile: keyFile, CheckInterval: -1})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	url := startTLSServer(t, c)

	if err := os.Remove(certFile); err != nil {
		t.Fatal(err)
	}

	if got := servedSerial(t, url, pair); got != 7 {
		t.Errorf("served serial %d after the file was removed, want 7", got)
	}
}

func TestCertificateCheckInterval(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first, second := newTestPair(t, 1), newTestPair(t, 2)
	writeFileAtomic(t, certFile, first.CertPEM)
	writeFileAtomic(t, keyFile, first.KeyPEM)
	c, err := New(Options{CertFile: certFile, KeyFile: keyFile, CheckInterval: time.Hour})
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	writeFileAtomic(t, certFile, second.CertPEM)
	writeFileAtomic(t, keyFile, second.KeyPEM)
	got, err := c.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}

	if got.Leaf.SerialNumber.Int64() != 1 {
		t.Errorf("within the check interval: serial %d, want the loaded 1", got.Leaf.SerialNumber.Int64())
	}
}

func TestNewRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	pair, other := newTestPair(t, 1), newTestPair(t, 2)
	certFile, keyFile, otherKey := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "other.key")
	writeFileAtomic(t, certFile, pair.CertPEM)
	writeFileAtomic(t, keyFile, pair.KeyPEM)
	writeFileAtomic(t, otherKey, other.KeyPEM)

	tests := []struct {
		name      string
		cert, key string
	}{
		{"missing cert", filepath.Join(dir, "missing.crt"), keyFile},
		{"missing key", certFile, filepath.Join(dir, "missing.key")},
		{"key of another certificate", certFile, otherKey},
		{"key file as certificate", keyFile, keyFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(Options{CertFile: tt.cert, KeyFile: tt.key}); err == nil {
				t.Errorf("New(%s, %s) succeeded, want an error", tt.cert, tt.key)
			}
		})
	}
}

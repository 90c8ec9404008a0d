package testcert

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
)

func TestNewServesAndVerifies(t *testing.T) {
	ip := net.ParseIP("127.0.0.5")
	p := New(t, 42, ip)
	if got := p.Cert.SerialNumber.Int64(); got != 42 {
		t.Errorf("serial = %d, want 42", got)
	}
	if _, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM); err != nil {
		t.Fatalf("the certificate and key do not form a pair: %v", err)
	}

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.CertPEM)
	if _, err := p.Cert.Verify(x509.VerifyOptions{Roots: roots}); err != nil {
		t.Errorf("verify with itself as root: %v", err)
	}
	if err := p.Cert.VerifyHostname(ip.String()); err != nil {
		t.Errorf("VerifyHostname(%s): %v", ip, err)
	}
}

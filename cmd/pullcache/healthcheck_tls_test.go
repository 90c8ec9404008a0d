package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/admin"
	"github.com/pullcache/pullcache/internal/config"
)

// writeServiceCertificate writes a self-signed server certificate that
// names only a service host name, as a real one would, never 127.0.0.1,
// and returns the paths of the certificate and key files.
func writeServiceCertificate(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "pullcache.internal.test"},
		DNSNames:     []string{"pullcache.internal.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}

	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// startTLSAdmin starts a healthy admin listener on loopback that serves
// the given certificate.
func startTLSAdmin(t *testing.T, certFile, keyFile string) *httptest.Server {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(admin.New(func(context.Context) error { return nil }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// writeHealthConfig writes a configuration whose admin_listen is
// adminAddr, with tls set when certFile is not empty.
func writeHealthConfig(t *testing.T, dir, adminAddr, certFile, keyFile string) string {
	t.Helper()
	text := fmt.Sprintf("admin_listen: %s\nstorage:\n  filesystem:\n    root: %s\n", adminAddr, filepath.Join(dir, "data"))
	if certFile != "" {
		text += fmt.Sprintf("tls:\n  cert: %s\n  key: %s\n", certFile, keyFile)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHealthcheckConfigWithTLS(t *testing.T) {
	t.Setenv(helperConfigEnv, "")
	dir := t.TempDir()
	certFile, keyFile := writeServiceCertificate(t, dir, "server")
	srv := startTLSAdmin(t, certFile, keyFile)
	configPath := writeHealthConfig(t, dir, srv.Listener.Addr().String(), certFile, keyFile)

	out, err := runCommand(t, "healthcheck", "--config", configPath)
	if err != nil {
		t.Fatalf("healthcheck --config with tls: %v", err)
	}
	if strings.TrimSpace(out) != "ok" {
		t.Errorf("output = %q, want ok", out)
	}
}

func TestHealthcheckConfigFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeServiceCertificate(t, dir, "server")
	srv := startTLSAdmin(t, certFile, keyFile)
	t.Setenv(helperConfigEnv, writeHealthConfig(t, dir, srv.Listener.Addr().String(), certFile, keyFile))

	if _, err := runCommand(t, "healthcheck"); err != nil {
		t.Fatalf("healthcheck with PULLCACHE_CONFIG set: %v", err)
	}
}

func TestHealthcheckConfigWithoutTLS(t *testing.T) {
	t.Setenv(helperConfigEnv, "")
	dir := t.TempDir()
	srv := httptest.NewServer(admin.New(func(context.Context) error { return nil }))
	defer srv.Close()
	configPath := writeHealthConfig(t, dir, srv.Listener.Addr().String(), "", "")

	if _, err := runCommand(t, "healthcheck", "--config", configPath); err != nil {
		t.Fatalf("healthcheck --config without tls: %v", err)
	}
}

func TestHealthcheckRejectsOtherCertificate(t *testing.T) {
	t.Setenv(helperConfigEnv, "")
	dir := t.TempDir()
	servedCert, servedKey := writeServiceCertificate(t, dir, "served")
	otherCert, otherKey := writeServiceCertificate(t, dir, "other")
	srv := startTLSAdmin(t, servedCert, servedKey)
	configPath := writeHealthConfig(t, dir, srv.Listener.Addr().String(), otherCert, otherKey)

	_, err := runCommand(t, "healthcheck", "--config", configPath)
	if err == nil {
		t.Fatal("healthcheck of a server with another certificate than tls.cert succeeded")
	}
	if !strings.Contains(err.Error(), "configured tls.cert") {
		t.Errorf("error %q does not say the certificate differs from tls.cert", err)
	}
}

func TestHealthcheckHTTPSWithoutConfig(t *testing.T) {
	t.Setenv(helperConfigEnv, "")
	dir := t.TempDir()
	certFile, keyFile := writeServiceCertificate(t, dir, "server")
	srv := startTLSAdmin(t, certFile, keyFile)

	_, err := runCommand(t, "healthcheck", "--admin", srv.URL)
	if err == nil {
		t.Fatal("healthcheck of an untrusted https server succeeded without --config")
	}
	if !strings.Contains(err.Error(), "pass --config") {
		t.Errorf("error %q does not point to --config", err)
	}
}

func TestHealthcheckAdminOverridesConfigAddress(t *testing.T) {
	t.Setenv(helperConfigEnv, "")
	dir := t.TempDir()
	certFile, keyFile := writeServiceCertificate(t, dir, "server")
	srv := startTLSAdmin(t, certFile, keyFile)
	configPath := writeHealthConfig(t, dir, freePort(t), certFile, keyFile)

	// The address comes from --admin and the trust from tls.cert.
	if _, err := runCommand(t, "healthcheck", "--config", configPath, "--admin", srv.URL); err != nil {
		t.Fatalf("healthcheck --config --admin: %v", err)
	}
}

func TestHealthTLSConfigVerifiesOtherHosts(t *testing.T) {
	certFile, _ := writeServiceCertificate(t, t.TempDir(), "server")
	for _, host := range []string{"10.0.0.5", "pullcache.internal.test", "::ffff:10.0.0.5"} {
		tlsConfig, err := healthTLSConfig(host, certFile)
		if err != nil {
			t.Fatalf("healthTLSConfig(%s): %v", host, err)
		}
		if tlsConfig.InsecureSkipVerify {
			t.Errorf("healthTLSConfig(%s) skips the standard verification, want it only for loopback", host)
		}
	}
	for _, host := range []string{"127.0.0.1", "127.0.0.2", "::1", "localhost"} {
		tlsConfig, err := healthTLSConfig(host, certFile)
		if err != nil {
			t.Fatalf("healthTLSConfig(%s): %v", host, err)
		}
		if tlsConfig.VerifyConnection == nil {
			t.Errorf("healthTLSConfig(%s) has no check against tls.cert", host)
		}
	}
	if tlsConfig, err := healthTLSConfig("127.0.0.1", ""); err != nil || tlsConfig.InsecureSkipVerify {
		t.Errorf("healthTLSConfig(127.0.0.1) without tls.cert = %+v, %v; want the standard verification", tlsConfig, err)
	}
}

func TestAdminURLFromConfig(t *testing.T) {
	for _, tc := range []struct {
		listen string
		tls    bool
		want   string
	}{
		{"127.0.0.1:9090", false, "http://127.0.0.1:9090"},
		{"0.0.0.0:9090", true, "https://127.0.0.1:9090"},
		{":9090", true, "https://127.0.0.1:9090"},
		{"[::]:9090", false, "http://[::1]:9090"},
		{"10.0.0.5:9090", true, "https://10.0.0.5:9090"},
	} {
		cfg := config.Default()
		cfg.AdminListen = tc.listen
		if tc.tls {
			cfg.TLS = &config.TLS{Cert: "tls.crt", Key: "tls.key"}
		}
		if got := adminURLFromConfig(cfg); got != tc.want {
			t.Errorf("admin_listen %s, tls %v: URL %s, want %s", tc.listen, tc.tls, got, tc.want)
		}
	}
}

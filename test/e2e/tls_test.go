package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pullcache/pullcache/internal/testcert"
	"github.com/pullcache/pullcache/internal/testproc"
)

// tlsMirrorIP is the loopback address of the TLS mirror. crane (like
// go-containerregistry) speaks plain HTTP to 127.0.0.1 and localhost by
// default, but HTTPS to other addresses.
const tlsMirrorIP = "127.0.0.5"

// writeCertificate writes a new self-signed certificate for tlsMirrorIP and
// its key, and returns the certificate in PEM.
func writeCertificate(t *testing.T, certFile, keyFile string, serial int64) []byte {
	t.Helper()
	pair := testcert.New(t, serial, net.ParseIP(tlsMirrorIP))
	// Write each file under a new name and rename it into place, as
	// certificate renewers do.
	for path, data := range map[string][]byte{certFile: pair.CertPEM, keyFile: pair.KeyPEM} {
		writeFile(t, path+".new", string(data))
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	return pair.CertPEM
}

// tlsMirror is a pullcache process serving both ports over TLS, with
// client authentication on.
type tlsMirror struct {
	addr      string
	adminAddr string
	certFile  string
	keyFile   string
}

func startTLSMirror(t *testing.T, hub *testHub) (*tlsMirror, []byte) {
	t.Helper()
	dir := t.TempDir()
	m := &tlsMirror{certFile: filepath.Join(dir, "tls.crt"), keyFile: filepath.Join(dir, "tls.key")}
	certPEM := writeCertificate(t, m.certFile, m.keyFile, 1)

	hash, err := bcrypt.GenerateFromPassword([]byte(mirrorPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	writeFile(t, htpasswd, mirrorUser+":"+string(hash)+"\n")

	m.addr, m.adminAddr = freeAddr(t), freeAddr(t)
	config := filepath.Join(dir, "pullcache.yaml")
	writeFile(t, config, fmt.Sprintf(`listen: %s
admin_listen: %s
storage:
  filesystem:
    root: %s
auth:
  htpasswd: %s
tls:
  cert: %s
  key: %s
upstreams:
  - name: docker.io
    url: %s
`, m.addr, m.adminAddr, filepath.Join(dir, "data"), htpasswd, m.certFile, m.keyFile, hub.URL()))

	cmd := exec.Command(pullcacheBinary, "serve", "--config", config)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	// servedSerial below waits for the TLS port and checks what it serves.
	runServer(t, "pullcache", cmd, filepath.Join(dir, "pullcache.log"), testproc.Options{})

	if serial := m.servedSerial(t, certPEM); serial != 1 {
		t.Fatalf("served certificate serial %d, want 1", serial)
	}
	return m, certPEM
}

// freeAddr returns a port on tlsMirrorIP that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", tlsMirrorIP+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", tlsMirrorIP, err)
	}
	defer l.Close()
	return l.Addr().String()
}

// servedSerial connects anew, trusting the given PEM certificates, waiting
// up to readyTimeout for the server, and returns the serial number of the
// certificate the registry port presents.
func (m *tlsMirror) servedSerial(t *testing.T, trusted ...[]byte) int64 {
	t.Helper()
	roots := x509.NewCertPool()
	for _, certPEM := range trusted {
		roots.AppendCertsFromPEM(certPEM)
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+m.addr+"/v2/", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("GET /v2/ without login over TLS: status %d, want 401", resp.StatusCode)
			}
			return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
		}
		if ctx.Err() != nil {
			t.Fatalf("GET https://%s/v2/: %v", m.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTLSLoginAndRotation(t *testing.T) {
	requireTool(t, "crane")
	requireTool(t, "skopeo")
	hub := startHub(t, hubOptions{})
	m, firstPEM := startTLSMirror(t, hub)
	ref := m.addr + "/library/alpine:3.20"

	// skopeo reads the CA certificates of a registry from a directory;
	// crane, a Go program, from SSL_CERT_FILE.
	client := newClientEnv(t)
	certDir := filepath.Join(client.home, "certs")
	if err := os.MkdirAll(certDir, 0o755); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(certDir, "ca.crt")
	writeFile(t, caFile, string(firstPEM))

	if r := client.skopeo(t, "login", "--cert-dir", certDir, "-u", mirrorUser, "-p", mirrorPassword, m.addr); r.err != nil {
		t.Fatalf("skopeo login over TLS failed: %s", r.failure())
	}
	r := client.skopeo(t, "inspect", "--cert-dir", certDir, "docker://"+ref)
	if r.err != nil {
		t.Fatalf("skopeo inspect over TLS failed: %s", r.failure())
	}
	if !strings.Contains(r.stdout, hub.std.Alpine.Digest.String()) {
		t.Errorf("skopeo inspect printed no digest %s:\n%s", hub.std.Alpine.Digest, r.stdout)
	}

	// A client that does not trust the certificate must fail.
	untrusting := newClientEnv(t)
	expectFailure(t, "skopeo login without the CA", untrusting.skopeo(t, "login", "-u", mirrorUser, "-p", mirrorPassword, m.addr), "certificate", "x509")

	// Rotate: the next connection must get the new certificate, with no
	// restart.
	secondPEM := writeCertificate(t, m.certFile, m.keyFile, 2)
	writeFile(t, caFile, string(firstPEM)+string(secondPEM))
	deadline := time.Now().Add(5 * time.Second)
	for m.servedSerial(t, firstPEM, secondPEM) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the mirror still serves the old certificate 5s after the files changed")
		}
		time.Sleep(200 * time.Millisecond)
	}

	crane := &craneTLS{env: client, caFile: filepath.Join(client.home, "ca-bundle.crt")}
	writeFile(t, crane.caFile, string(secondPEM))
	if r := crane.run(t, "auth", "login", m.addr, "-u", mirrorUser, "-p", mirrorPassword); r.err != nil {
		t.Fatalf("crane auth login failed: %s", r.failure())
	}
	r = crane.run(t, "digest", ref)
	if r.err != nil {
		t.Fatalf("crane digest over TLS after the rotation failed: %s", r.failure())
	}
	if got := strings.TrimSpace(r.stdout); got != hub.std.Alpine.Digest.String() {
		t.Errorf("crane digest = %s, want %s", got, hub.std.Alpine.Digest)
	}
	if r := client.skopeo(t, "inspect", "--cert-dir", certDir, "docker://"+ref); r.err != nil {
		t.Errorf("skopeo inspect after the rotation failed: %s", r.failure())
	}
}

// craneTLS runs crane trusting only the certificates in caFile.
type craneTLS struct {
	env    *clientEnv
	caFile string
}

func (c *craneTLS) run(t *testing.T, args ...string) toolResult {
	t.Helper()
	result := runCommand(nil, append(c.env.environ(), "SSL_CERT_FILE="+c.caFile), c.env.home, "crane", args...)
	t.Logf("crane %s: %v", strings.Join(args, " "), errOrOK(result.err))
	return result
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSecurityConfig writes a configuration whose auth and tls keys name
// the given files.
func writeSecurityConfig(t *testing.T, htpasswd, cert, key string) string {
	t.Helper()
	text := "auth:\n  htpasswd: " + htpasswd + "\n"
	if cert != "" {
		text += "tls:\n  cert: " + cert + "\n  key: " + key + "\n"
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigCheckRejectsMD5Htpasswd(t *testing.T) {
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	// An Apache MD5 entry, as htpasswd writes without -B.
	if err := os.WriteFile(htpasswd, []byte("ci:$apr1$x1ZGOBla$4dMhZmIEPJ9vKqL.FIg2f0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeSecurityConfig(t, htpasswd, "", "")

	out, errOut, err := runWithInput(t, "", "config", "check", "--config", path)
	if err == nil {
		t.Fatalf("config check accepted an MD5 htpasswd entry that serve rejects:\n%s%s", out, errOut)
	}
	if !strings.HasPrefix(err.Error(), "auth.htpasswd:") {
		t.Errorf("error %q does not start with auth.htpasswd: as serve's does", err)
	}
	if !strings.Contains(out, "auth.htpasswd: "+htpasswd+": REJECTED") {
		t.Errorf("output does not mark the htpasswd file as rejected:\n%s", out)
	}
}

func TestConfigCheckRejectsMissingTLSFiles(t *testing.T) {
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeSecurityConfig(t, htpasswd, filepath.Join(dir, "missing.crt"), filepath.Join(dir, "missing.key"))

	out, errOut, err := runWithInput(t, "", "config", "check", "--config", path)
	if err == nil {
		t.Fatalf("config check accepted TLS files that do not exist:\n%s%s", out, errOut)
	}
	if !strings.Contains(err.Error(), "tls:") {
		t.Errorf("error %q does not name tls as serve's does", err)
	}
}

func TestConfigCheckLoadsGoodSecurityFiles(t *testing.T) {
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, certFile, keyFile)
	path := writeSecurityConfig(t, htpasswd, certFile, keyFile)

	out, errOut, err := runWithInput(t, "", "config", "check", "--config", path)
	if err != nil {
		t.Fatalf("config check: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{"auth.htpasswd: " + htpasswd + ": loaded", "tls: " + certFile + ": loaded"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
}

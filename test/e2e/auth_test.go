package e2e

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Login of the mirror in these tests.
const (
	mirrorUser     = "ci"
	mirrorPassword = "pull-s3cret"
)

// startAuthMirror starts pullcache with client authentication on, one
// login, and anonymousRead as auth.anonymous_read.
func startAuthMirror(t *testing.T, hub *testHub, anonymousRead ...string) *mirror {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(mirrorPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("hash password: %v", err)
	}
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	writeFile(t, htpasswd, mirrorUser+":"+string(hash)+"\n")

	extra := fmt.Sprintf("auth:\n  htpasswd: %s\n", htpasswd)
	if len(anonymousRead) > 0 {
		extra += fmt.Sprintf("  anonymous_read: [%s]\n", strings.Join(anonymousRead, ", "))
	}
	return startMirror(t, hub, mirrorConfig{extraYAML: extra})
}

// podman runs podman with a private store in the client's HOME, so that
// it touches nothing of this machine. Its run directory goes under the
// system's temporary directory, because podman 4.3 rejects a run root of
// more than 50 characters.
func (e *clientEnv) podman(t *testing.T, args ...string) toolResult {
	t.Helper()
	sum := sha256.Sum256([]byte(e.home))
	runRoot := filepath.Join(os.TempDir(), fmt.Sprintf("pullcache-podman-%x", sum[:6]))
	if err := os.MkdirAll(runRoot, 0o700); err != nil {
		t.Fatalf("create podman run root: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(runRoot) })
	// podman pull fails when REGISTRY_AUTH_FILE names a missing file.
	authFile := filepath.Join(e.home, "auth.json")
	if _, err := os.Stat(authFile); err != nil {
		writeFile(t, authFile, "{}\n")
	}
	global := []string{
		"--root", filepath.Join(e.home, "podman-root"),
		"--runroot", runRoot,
		"--storage-driver", "vfs",
		"--cgroup-manager", "cgroupfs",
		"--events-backend", "file",
	}
	return e.run(t, nil, "podman", append(global, args...)...)
}

// expectFailure fails the test when the action succeeded, and when the
// client's output does not mention any of the words in want.
func expectFailure(t *testing.T, action string, result toolResult, want ...string) {
	t.Helper()
	if result.err == nil {
		t.Errorf("%s succeeded, want a failure\nstdout: %s", action, result.stdout)
		return
	}
	output := strings.ToLower(result.stderr + result.stdout)
	for _, word := range want {
		if strings.Contains(output, strings.ToLower(word)) {
			return
		}
	}
	t.Errorf("%s failed without naming any of %q: %s", action, want, result.failure())
}

func TestSkopeoLogin(t *testing.T) {
	requireTool(t, "skopeo")
	hub := startHub(t, hubOptions{})
	m := startAuthMirror(t, hub)
	ref := "docker://" + m.ref("library/alpine:3.20")

	anonymous := newClientEnv(t)
	expectFailure(t, "skopeo inspect without login", anonymous.skopeo(t, "inspect", "--tls-verify=false", ref), "401", "unauthorized", "authentication required")

	wrong := newClientEnv(t)
	expectFailure(t, "skopeo login with a wrong password", wrong.skopeo(t, "login", "--tls-verify=false", "-u", mirrorUser, "-p", "wrong", m.addr), "401", "unauthorized", "invalid username/password")
	expectFailure(t, "skopeo inspect after a failed login", wrong.skopeo(t, "inspect", "--tls-verify=false", ref), "401", "unauthorized", "authentication required")

	client := newClientEnv(t)
	if r := client.skopeo(t, "login", "--tls-verify=false", "-u", mirrorUser, "-p", mirrorPassword, m.addr); r.err != nil {
		t.Fatalf("skopeo login failed: %s", r.failure())
	}
	r := client.skopeo(t, "inspect", "--tls-verify=false", ref)
	if r.err != nil {
		t.Fatalf("skopeo inspect after login failed: %s", r.failure())
	}
	if !strings.Contains(r.stdout, hub.std.Alpine.Digest.String()) {
		t.Errorf("skopeo inspect printed no digest %s:\n%s", hub.std.Alpine.Digest, r.stdout)
	}
	out := filepath.Join(t.TempDir(), "layout")
	if r := client.skopeo(t, "copy", "--src-tls-verify=false", ref, "oci:"+out+":3.20"); r.err != nil {
		t.Fatalf("skopeo copy after login failed: %s", r.failure())
	}
	ociLayout{dir: out}.checkBlobsVerify(t)
}

func TestPodmanLogin(t *testing.T) {
	requireTool(t, "podman")
	hub := startHub(t, hubOptions{})
	m := startAuthMirror(t, hub)

	wrong := newClientEnv(t)
	expectFailure(t, "podman login with a wrong password", wrong.podman(t, "login", "--tls-verify=false", "-u", mirrorUser, "-p", "wrong", m.addr), "401", "unauthorized", "invalid username/password")

	client := newClientEnv(t)
	if r := client.podman(t, "login", "--tls-verify=false", "-u", mirrorUser, "-p", mirrorPassword, m.addr); r.err != nil {
		t.Fatalf("podman login failed: %s", r.failure())
	}
	authFile, err := os.ReadFile(filepath.Join(client.home, "auth.json"))
	if err != nil || !strings.Contains(string(authFile), m.addr) {
		t.Errorf("podman login stored no login for %s in REGISTRY_AUTH_FILE (%v): %s", m.addr, err, authFile)
	}
	if r := client.podman(t, "pull", "--tls-verify=false", m.ref("library/alpine:3.20")); r.err != nil {
		t.Fatalf("podman pull after login failed: %s", r.failure())
	}
	if r := client.podman(t, "logout", m.addr); r.err != nil {
		t.Fatalf("podman logout failed: %s", r.failure())
	}
	expectFailure(t, "podman pull after logout", client.podman(t, "pull", "--tls-verify=false", m.ref("library/multiarch:latest")), "401", "unauthorized", "authentication required")
}

func TestCraneAuthLogin(t *testing.T) {
	requireTool(t, "crane")
	hub := startHub(t, hubOptions{})
	m := startAuthMirror(t, hub)
	ref := m.ref("library/alpine:3.20")

	anonymous := newClientEnv(t)
	expectFailure(t, "crane digest without login", anonymous.crane(t, "digest", "--insecure", ref), "401", "unauthorized")

	// crane auth login only stores the login; the next request uses it.
	wrong := newClientEnv(t)
	if r := wrong.crane(t, "auth", "login", m.addr, "-u", mirrorUser, "-p", "wrong"); r.err != nil {
		t.Fatalf("crane auth login failed: %s", r.failure())
	}
	expectFailure(t, "crane digest with a wrong password", wrong.crane(t, "digest", "--insecure", ref), "401", "unauthorized")

	client := newClientEnv(t)
	if r := client.crane(t, "auth", "login", m.addr, "-u", mirrorUser, "-p", mirrorPassword); r.err != nil {
		t.Fatalf("crane auth login failed: %s", r.failure())
	}
	if got := client.craneDigest(t, ref); got != hub.std.Alpine.Digest {
		t.Errorf("crane digest after login = %s, want %s", got, hub.std.Alpine.Digest)
	}
	client.cranePull(t, ref)
}

func TestAnonymousReadWithClients(t *testing.T) {
	requireTool(t, "skopeo")
	requireTool(t, "crane")
	requireTool(t, "podman")
	hub := startHub(t, hubOptions{})
	m := startAuthMirror(t, hub, "docker.io")
	ref := m.ref("library/alpine:3.20")

	client := newClientEnv(t)
	if got := client.craneDigest(t, ref); got != hub.std.Alpine.Digest {
		t.Errorf("anonymous crane digest = %s, want %s", got, hub.std.Alpine.Digest)
	}
	client.cranePull(t, ref)
	if r := client.skopeo(t, "inspect", "--tls-verify=false", "docker://"+ref); r.err != nil {
		t.Errorf("anonymous skopeo inspect failed: %s", r.failure())
	}
	expectFailure(t, "crane catalog without login", client.crane(t, "catalog", "--insecure", m.addr), "401", "unauthorized")
	if r := client.podman(t, "pull", "--tls-verify=false", m.ref("library/multiarch:latest")); r.err != nil {
		t.Errorf("anonymous podman pull failed: %s", r.failure())
	}

	// A login that is sent must still be right.
	wrong := newClientEnv(t)
	if r := wrong.crane(t, "auth", "login", m.addr, "-u", mirrorUser, "-p", "wrong"); r.err != nil {
		t.Fatalf("crane auth login failed: %s", r.failure())
	}
	expectFailure(t, "crane digest with a wrong password on an anonymous upstream", wrong.crane(t, "digest", "--insecure", ref), "401", "unauthorized")
}

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// containerdHosts writes the hosts.toml snippets of docs/clients/containerd.md
// for docker.io and ghcr.io, with the mirror's address in place of the
// example's. Each registry's own server becomes a dead loopback port, so a
// fallback is refused instead of leaving the machine.
func containerdHosts(t *testing.T, c *mirrorContainerd, mirrorAddr string) {
	t.Helper()
	dead := "http://" + deadAddr(t)
	for _, tt := range []struct {
		registry, snippet, server string
	}{
		{"docker.io", "hosts-docker.io", "https://registry-1.docker.io"},
		{"ghcr.io", "hosts-ghcr.io", "https://ghcr.io"},
	} {
		hosts := replaceAll(t, docSnippet(t, "docs/clients/containerd.md", tt.snippet),
			tt.server, dead,
			"pullcache.internal:5000", mirrorAddr,
		)
		c.writeHosts(t, tt.registry, hosts)
	}
}

// storedDigestLink reports whether the store links digest d to repo of
// upstream, which is what a pull by digest, as containerd makes after
// resolving a tag, leaves behind.
func (m *mirror) storedDigestLink(upstream, repo string, d digest.Digest) bool {
	_, err := os.Stat(filepath.Join(m.dataDir, "repositories", upstream, repo, "_digests", d.Algorithm().String()+"-"+d.Encoded()))
	return err == nil
}

func TestContainerdPullsBothRegistries(t *testing.T) {
	s := startTwoRegistries(t)
	c := startMirrorContainerd(t)
	containerdHosts(t, c, s.mirror.addr)

	for _, tt := range []struct {
		upstream string
		want     digest.Digest
	}{
		{"docker.io", s.hubApp},
		{"ghcr.io", s.registryApp},
	} {
		ref := tt.upstream + "/" + appRepo + ":1"
		if r := c.pull(t, ref); r.err != nil {
			t.Errorf("ctr images pull %s through the mirror failed: %s", ref, r.failure())
			continue
		}
		if got := c.imageDigest(t, ref); got != tt.want.String() {
			t.Errorf("ctr images ls lists %s as %q, want %s", ref, got, tt.want)
		}
		if !s.mirror.storedDigestLink(tt.upstream, appRepo, tt.want) {
			t.Errorf("the mirror's store has no %s %s@%s: the pull did not go through the mirror to the right upstream", tt.upstream, appRepo, tt.want)
		}
	}
	if s.mirror.storedDigestLink("docker.io", appRepo, s.registryApp) || s.mirror.storedDigestLink("ghcr.io", appRepo, s.hubApp) {
		t.Errorf("the store links one upstream's manifest to the other's repository")
	}

	// The page's check: pull, read the digest, ask the mirror for it.
	requireTool(t, "curl")
	check := replaceAll(t, docSnippet(t, "docs/clients/containerd.md", "check"),
		"ctr ", "ctr --address "+c.socket+" ",
		"/etc/containerd/certs.d", c.hostsDir,
		"pullcache.internal:5000", s.mirror.addr,
	)
	r := runDocScript(t, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.dir}, check)
	if r.err != nil {
		t.Fatalf("the containerd page's check failed: %s", r.failure())
	}
	if !strings.Contains(strings.ToLower(r.stdout), "x-cache-status: hit") {
		t.Errorf("the containerd page's check printed %q, want X-Cache-Status: HIT", r.stdout)
	}
}

func TestContainerdUnconfiguredRegistry(t *testing.T) {
	s := startTwoRegistries(t)
	c := startMirrorContainerd(t)
	recorder := startConnRecorder(t)

	// containerd sends ?ns=<recorder's address> to the mirror, which must
	// return 404 without contacting it. The file's server is a dead port,
	// so containerd's own fallback does not reach the recorder either.
	hosts := replaceAll(t, docSnippet(t, "docs/clients/containerd.md", "hosts-ghcr.io"),
		"https://ghcr.io", "http://"+deadAddr(t),
		"pullcache.internal:5000", s.mirror.addr,
	)
	c.writeHosts(t, recorder.addr(), hosts)

	ref := recorder.addr() + "/" + appRepo + ":1"
	r := c.pull(t, ref)
	if r.err == nil {
		t.Errorf("ctr images pull %s through the mirror succeeded for a registry the mirror does not list", ref)
	}
	// The mirror logs each error response with its message.
	log := readFileString(t, filepath.Join(s.mirror.logDir, "pullcache-1.log"))
	if !strings.Contains(log, "registry "+recorder.addr()+" is not configured") {
		t.Errorf("the mirror's log has no 404 for registry %s: containerd did not ask the mirror", recorder.addr())
	}
	if n := recorder.count(); n != 0 {
		t.Errorf("the unconfigured registry received %d connections, want 0", n)
	}
}

func TestContainerdMirrorPathNamesRegistry(t *testing.T) {
	s := startTwoRegistries(t)
	c := startMirrorContainerd(t)

	// A mirror URL with the registry in its path: containerd sends
	// /v2/ghcr.io/myorg/app/...?ns=ghcr.io, and the mirror must not take
	// ghcr.io for part of the repository name.
	c.writeHosts(t, "ghcr.io", fmt.Sprintf(`server = "http://%s"

[host."http://%s/v2/ghcr.io"]
  capabilities = ["pull", "resolve"]
  override_path = true
`, deadAddr(t), s.mirror.addr))

	ref := "ghcr.io/" + appRepo + ":1"
	if r := c.pull(t, ref); r.err != nil {
		t.Fatalf("ctr images pull %s through a mirror URL with a path failed: %s", ref, r.failure())
	}
	if got := c.imageDigest(t, ref); got != s.registryApp.String() {
		t.Errorf("ctr images ls lists %s as %q, want %s", ref, got, s.registryApp)
	}
	if !s.mirror.storedDigestLink("ghcr.io", appRepo, s.registryApp) {
		t.Errorf("the mirror's store has no ghcr.io %s@%s", appRepo, s.registryApp)
	}
}

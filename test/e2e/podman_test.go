package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// podmanEnv runs podman without a daemon, with vfs storage and its
// configuration in a temporary folder, so that nothing of this machine's
// container setup is used or changed.
type podmanEnv struct {
	dir    string
	policy string
	env    []string
}

func newPodmanEnv(t *testing.T, registriesConf string) *podmanEnv {
	t.Helper()
	requireTool(t, "podman")
	requireRoot(t, "podman with vfs storage")
	requireLoopbackOnly(t)

	dir := t.TempDir()
	for _, sub := range []string{"root", "run", "tmp", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	p := &podmanEnv{dir: dir, policy: filepath.Join(dir, "policy.json")}
	writeFile(t, p.policy, `{"default": [{"type": "insecureAcceptAnything"}]}`)
	// podman requires REGISTRY_AUTH_FILE to exist.
	writeFile(t, filepath.Join(dir, "auth.json"), `{"auths": {}}`)
	writeFile(t, filepath.Join(dir, "registries.conf"), registriesConf)
	writeFile(t, filepath.Join(dir, "storage.conf"), fmt.Sprintf("[storage]\ndriver = \"vfs\"\nrunroot = %q\ngraphroot = %q\n",
		filepath.Join(dir, "run"), filepath.Join(dir, "root")))
	// tmp_dir keeps podman's run state out of /run/libpod.
	writeFile(t, filepath.Join(dir, "containers.conf"), fmt.Sprintf("[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\ntmp_dir = %q\n",
		filepath.Join(dir, "libpod")))

	p.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(dir, "home"),
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(dir, "registries.conf"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf"),
		"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"),
		"REGISTRY_AUTH_FILE=" + filepath.Join(dir, "auth.json"),
	}
	return p
}

// run runs podman within toolTimeout.
func (p *podmanEnv) run(t *testing.T, args ...string) toolResult {
	t.Helper()
	start := time.Now()
	result := runCommand(nil, p.env, p.dir, "podman", args...)
	t.Logf("podman %s: %s in %s", strings.Join(args, " "), errOrOK(result.err), time.Since(start).Round(time.Millisecond))
	return result
}

// pullAndCheck pulls ref and checks the manifest digest podman stored.
func (p *podmanEnv) pullAndCheck(t *testing.T, ref string, want digest.Digest) {
	t.Helper()
	if r := p.run(t, "pull", "--signature-policy", p.policy, ref); r.err != nil {
		t.Errorf("podman pull %s through the mirror failed: %s", ref, r.failure())
		return
	}
	r := p.run(t, "image", "inspect", "--format", "{{.Digest}}", ref)
	if r.err != nil {
		t.Errorf("podman image inspect %s failed: %s", ref, r.failure())
		return
	}
	if got := strings.TrimSpace(r.stdout); got != want.String() {
		t.Errorf("podman stored %s as %s, want %s", ref, got, want)
	}
}

// podmanRegistriesConf returns a registries.conf snippet of the docs with
// the mirror's address in place of the example's, and the registries'
// own locations replaced by a dead loopback port, so that a fallback is
// refused instead of leaving the machine.
func podmanRegistriesConf(t *testing.T, page, snippet, mirrorAddr string) string {
	t.Helper()
	dead := fmt.Sprintf("location = %q\ninsecure = true", deadAddr(t))
	return replaceAll(t, docSnippet(t, page, snippet),
		"pullcache.internal:5000", mirrorAddr,
		`location = "registry-1.docker.io"`, dead,
		`location = "ghcr.io"`, dead,
	)
}

func TestPodmanPullsBothRegistries(t *testing.T) {
	s := startTwoRegistries(t)

	for _, tt := range []struct {
		page, snippet string
	}{
		{"docs/clients/podman.md", "registries.conf"},
		{"docs/clients/cri-o.md", "registries.conf.d"},
	} {
		t.Run(filepath.Base(tt.page), func(t *testing.T) {
			p := newPodmanEnv(t, podmanRegistriesConf(t, tt.page, tt.snippet, s.mirror.addr))

			p.pullAndCheck(t, "docker.io/"+appRepo+":1", s.hubApp)
			p.pullAndCheck(t, "ghcr.io/"+appRepo+":1", s.registryApp)
			if tt.snippet == "registries.conf" {
				p.runPageCheck(t, s)
			}
		})
	}

	// podman fetches tags with GET, so both tags are now stored, each
	// under its own upstream.
	if got := s.mirror.storedTag(t, "docker.io", appRepo, "1"); got != s.hubApp {
		t.Errorf("stored docker.io %s:1 = %q, want %s", appRepo, got, s.hubApp)
	}
	if got := s.mirror.storedTag(t, "ghcr.io", appRepo, "1"); got != s.registryApp {
		t.Errorf("stored ghcr.io %s:1 = %q, want %s", appRepo, got, s.registryApp)
	}
}

// runPageCheck runs the podman page's check commands: the inspected digest
// is ghcr.io's, and the debug log names the mirror as the first place
// tried for a Docker Hub image.
func (p *podmanEnv) runPageCheck(t *testing.T, s *twoRegistries) {
	t.Helper()
	check := replaceAll(t, docSnippet(t, "docs/clients/podman.md", "check"),
		"pull ", "pull --signature-policy "+p.policy+" ",
	)
	r := runDocScript(t, p.env, check)
	if r.err != nil {
		t.Fatalf("the podman page's check failed: %s", r.failure())
	}
	if !strings.Contains(r.stdout, s.registryApp.String()) {
		t.Errorf("the podman page's check printed %q, want the digest %s", r.stdout, s.registryApp)
	}
	mirrorFirst := false
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(strings.ToLower(line), "trying to access") {
			mirrorFirst = strings.Contains(line, s.mirror.addr+"/library/alpine:3.20")
			break
		}
	}
	if !mirrorFirst {
		t.Errorf("the podman page's check printed %q, want the mirror %s in the first \"Trying to access\" line", r.stdout, s.mirror.addr)
	}
}

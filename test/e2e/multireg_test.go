package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// appRepo is a repository that exists, with different content, on both
// upstreams, so that a pull routed to the wrong one shows.
const appRepo = "myorg/app"

// twoRegistries is pullcache in front of hubsim as docker.io and a
// docker-registry process as ghcr.io, configured with the upstreams
// snippet of docs/clients/README.md. The name ghcr.io keeps the client
// snippets of the docs unchanged. The real ghcr.io is out of reach,
// because the tests run in a network namespace with loopback only.
type twoRegistries struct {
	hub      *testHub
	registry *distRegistry
	mirror   *mirror
	env      *clientEnv
	// hubApp and registryApp are appRepo:1 on docker.io and on ghcr.io.
	hubApp, registryApp digest.Digest
}

func startTwoRegistries(t *testing.T) *twoRegistries {
	t.Helper()
	requireTool(t, "crane")
	env := newClientEnv(t)
	hub := startHub(t, hubOptions{})
	registry := startDistRegistry(t)

	s := &twoRegistries{hub: hub, registry: registry, env: env}
	s.hubApp = putHubImage(t, hub, appRepo, "1", map[string]string{"etc/origin": "docker.io\n"})
	s.registryApp = pushImage(t, env, registry.addr+"/"+appRepo+":1", map[string]string{"etc/origin": "ghcr.io\n"})
	pushImage(t, env, registry.addr+"/other/app:1", map[string]string{"etc/origin": "ghcr.io other\n"})
	if s.hubApp == s.registryApp {
		t.Fatalf("both upstreams hold %s as %s; the test needs different content", appRepo, s.hubApp)
	}

	upstreams := replaceAll(t, docSnippet(t, "docs/clients/README.md", "pullcache-upstreams"),
		"https://registry-1.docker.io", hub.URL(),
		"https://ghcr.io", "http://"+registry.addr,
	)
	s.mirror = startMirror(t, hub, mirrorConfig{upstreamsYAML: upstreams})
	return s
}

// storedTag returns the digest of the stored tag record of repo:tag from
// upstream, or "" when there is none.
func (m *mirror) storedTag(t *testing.T, upstream, repo, tag string) digest.Digest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(m.dataDir, "repositories", upstream, repo, "_tags", tag))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatalf("read stored tag: %v", err)
	}
	var record struct {
		Digest digest.Digest `json:"digest"`
	}
	if err := json.Unmarshal(data, &record); err != nil {
		t.Fatalf("decode stored tag %q: %v", data, err)
	}
	return record.Digest
}

// mirrorRequests counts the lines of docker-registry's access log for a
// path that contains pathPart and that pullcache sent, by its User-Agent.
func (r *distRegistry) mirrorRequests(t *testing.T, pathPart string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(readFileString(t, filepath.Join(r.dir, "registry.log")), "\n") {
		if strings.Contains(line, pathPart) && strings.Contains(line, `"pullcache`) {
			n++
		}
	}
	return n
}

func TestMultiRegistryPathPrefix(t *testing.T) {
	s := startTwoRegistries(t)
	m := s.mirror

	// The default upstream serves names without a registry host; the
	// path prefix names either upstream.
	if got := s.env.craneDigest(t, m.ref(appRepo+":1")); got != s.hubApp {
		t.Errorf("crane digest %s:1 (default upstream) = %s, want docker.io's %s", appRepo, got, s.hubApp)
	}
	if got := s.env.craneDigest(t, m.ref("docker.io/"+appRepo+":1")); got != s.hubApp {
		t.Errorf("crane digest docker.io/%s:1 = %s, want docker.io's %s", appRepo, got, s.hubApp)
	}
	if got := s.env.craneDigest(t, m.ref("ghcr.io/"+appRepo+":1")); got != s.registryApp {
		t.Errorf("crane digest ghcr.io/%s:1 = %s, want ghcr.io's %s", appRepo, got, s.registryApp)
	}

	// crane digest sends HEAD requests, which store nothing; crane pull
	// fetches and stores.
	for _, tt := range []struct {
		ref  string
		want digest.Digest
	}{
		{"ghcr.io/" + appRepo + ":1", s.registryApp},
		{appRepo + ":1", s.hubApp},
	} {
		layout := s.env.cranePull(t, m.ref(tt.ref))
		if top := layout.topManifest(t); top.Digest != tt.want {
			t.Errorf("crane pull %s wrote manifest %s, want %s", tt.ref, top.Digest, tt.want)
		}
	}
	requireTool(t, "skopeo")
	dest := "oci:" + filepath.Join(t.TempDir(), "skopeo") + ":1"
	if r := s.env.skopeo(t, "copy", "--src-tls-verify=false", "docker://"+m.ref("ghcr.io/"+appRepo+":1"), dest); r.err != nil {
		t.Errorf("skopeo copy from ghcr.io through the mirror failed: %s", r.failure())
	}

	// Each upstream's tag is stored apart, under its own name.
	if got := m.storedTag(t, "docker.io", appRepo, "1"); got != s.hubApp {
		t.Errorf("stored docker.io %s:1 = %q, want %s", appRepo, got, s.hubApp)
	}
	if got := m.storedTag(t, "ghcr.io", appRepo, "1"); got != s.registryApp {
		t.Errorf("stored ghcr.io %s:1 = %q, want %s", appRepo, got, s.registryApp)
	}
}

func TestMultiRegistryNamespaceParam(t *testing.T) {
	s := startTwoRegistries(t)
	m := s.mirror

	for _, tt := range []struct {
		ns   string
		want digest.Digest
	}{
		{"ghcr.io", s.registryApp},
		{"docker.io", s.hubApp},
	} {
		r := m.getManifest(t, appRepo, "1?ns="+url.QueryEscape(tt.ns))
		if r.status != http.StatusOK {
			t.Errorf("GET %s:1 ?ns=%s: status %d (body %q), want 200", appRepo, tt.ns, r.status, r.body)
			continue
		}
		if got := r.header.Get("Docker-Content-Digest"); got != tt.want.String() {
			t.Errorf("GET %s:1 ?ns=%s: digest %s, want %s", appRepo, tt.ns, got, tt.want)
		}
		if got := r.header.Get("OCI-Namespace"); got != tt.ns {
			t.Errorf("GET %s:1 ?ns=%s: OCI-Namespace %q, want %q", appRepo, tt.ns, got, tt.ns)
		}
	}
	if got := m.storedTag(t, "ghcr.io", appRepo, "1"); got != s.registryApp {
		t.Errorf("stored ghcr.io %s:1 = %q, want %s", appRepo, got, s.registryApp)
	}

	// The check command of the client docs, after the GET above stored
	// the tag.
	requireTool(t, "curl")
	check := replaceAll(t, docSnippet(t, "docs/clients/README.md", "check-upstream"), "pullcache.internal:5000", m.addr)
	r := s.env.run(t, nil, "bash", "-c", check)
	if r.err != nil {
		t.Fatalf("the check command failed: %s", r.failure())
	}
	output := strings.ToLower(r.stdout)
	for _, want := range []string{"x-cache-status: hit", "oci-namespace: ghcr.io", "docker-content-digest: " + s.registryApp.String()} {
		if !strings.Contains(output, want) {
			t.Errorf("the check command printed %q, want a line %q", r.stdout, want)
		}
	}
}

func TestMultiRegistryUnconfiguredNoConnection(t *testing.T) {
	s := startTwoRegistries(t)
	m := s.mirror
	recorder := startConnRecorder(t)
	name := recorder.addr()

	// An image reference cannot carry a host with a port in its path, so
	// crane names an unconfigured registry without one. The network
	// namespace has no route to it either way.
	r := s.env.crane(t, "digest", m.ref("quay.io/"+appRepo+":1"))
	if r.err == nil {
		t.Errorf("crane digest through the mirror of the unconfigured registry quay.io succeeded")
	} else if !strings.Contains(r.stderr, "NAME_UNKNOWN") {
		t.Errorf("crane digest of an unconfigured registry failed without NAME_UNKNOWN: %s", r.failure())
	}

	// The raw requests name the recording listener, which an open proxy
	// would connect to.

	for _, path := range []string{
		name + "/" + appRepo + "/manifests/1",
		appRepo + "/manifests/1?ns=" + url.QueryEscape(name),
	} {
		resp := m.request(t, http.MethodGet, path, "")
		if resp.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, resp.status)
			continue
		}
		e := firstError(t, resp.body)
		if e.Code != "NAME_UNKNOWN" || !strings.Contains(e.Message, "upstreams") {
			t.Errorf("GET %s: %s %q, want NAME_UNKNOWN naming the upstreams key", path, e.Code, e.Message)
		}
	}

	if n := recorder.count(); n != 0 {
		t.Errorf("the unconfigured registry received %d connections, want 0", n)
	}
}

func TestMultiRegistryDeniedNoRequest(t *testing.T) {
	s := startTwoRegistries(t)
	m := s.mirror

	r := s.env.crane(t, "digest", m.ref("ghcr.io/other/app:1"))
	if r.err == nil {
		t.Errorf("crane digest of ghcr.io/other/app, outside the allow list, succeeded")
	} else if !strings.Contains(r.stderr, "DENIED") {
		t.Errorf("crane digest of an excluded repository failed without DENIED: %s", r.failure())
	}

	resp := m.request(t, http.MethodGet, "other/app/manifests/1?ns=ghcr.io", "")
	if resp.status != http.StatusForbidden {
		t.Fatalf("GET other/app:1 ?ns=ghcr.io: status %d, want 403", resp.status)
	}
	if e := firstError(t, resp.body); e.Code != "DENIED" || !strings.Contains(e.Message, "upstreams[].allow") {
		t.Errorf("GET other/app:1 ?ns=ghcr.io: %s %q, want DENIED naming upstreams[].allow", e.Code, e.Message)
	}

	// The access log records the mirror's requests, by its User-Agent,
	// once it has pulled an allowed repository.
	if got := s.env.craneDigest(t, m.ref("ghcr.io/"+appRepo+":1")); got != s.registryApp {
		t.Fatalf("crane digest ghcr.io/%s:1 = %s, want %s", appRepo, got, s.registryApp)
	}
	if n := s.registry.mirrorRequests(t, "/v2/"+appRepo+"/"); n == 0 {
		t.Fatalf("the registry's access log shows no pullcache request for %s; it cannot show what the mirror sent", appRepo)
	}
	if n := s.registry.mirrorRequests(t, "/v2/other/app/"); n != 0 {
		t.Errorf("the registry received %d requests from pullcache for the excluded other/app, want 0", n)
	}
}

func readFileString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(data)
}

func TestMultiRegistryPatternsApplyToStored(t *testing.T) {
	s := startTwoRegistries(t)
	m := s.mirror
	s.env.cranePull(t, m.ref("ghcr.io/"+appRepo+":1"))
	if !m.storedDigestLink("ghcr.io", appRepo, s.registryApp) {
		t.Fatalf("the mirror did not store ghcr.io %s@%s", appRepo, s.registryApp)
	}
	if catalog := m.request(t, http.MethodGet, "_catalog", ""); !strings.Contains(string(catalog.body), `"ghcr.io/`+appRepo+`"`) {
		t.Fatalf("catalog %s does not list ghcr.io/%s after the pull", catalog.body, appRepo)
	}

	// Restart with ghcr.io's allow list narrowed so that it excludes
	// what the store already holds.
	upstreams := replaceAll(t, docSnippet(t, "docs/clients/README.md", "pullcache-upstreams"),
		"https://registry-1.docker.io", s.hub.URL(),
		"https://ghcr.io", "http://"+s.registry.addr,
		`allow: ["myorg/**"]`, `allow: ["myorg/other"]`,
	)
	m.restart(mirrorConfig{upstreamsYAML: upstreams})

	resp := m.request(t, http.MethodGet, appRepo+"/manifests/"+s.registryApp.String()+"?ns=ghcr.io", "")
	if resp.status != http.StatusForbidden {
		t.Errorf("GET stored %s@%s ?ns=ghcr.io after its pattern was removed: status %d, want 403", appRepo, s.registryApp, resp.status)
	}
	catalog := m.request(t, http.MethodGet, "_catalog", "")
	if strings.Contains(string(catalog.body), "ghcr.io/"+appRepo) {
		t.Errorf("catalog %s lists ghcr.io/%s, which the patterns now exclude", catalog.body, appRepo)
	}
}

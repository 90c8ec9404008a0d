package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/upstream"
)

// spendQuota spends, through the mirror, the one pull that the hub's
// anonymous limit allows, so that the hub rejects every later manifest GET while it still serves HEADs. It then
// zeroes the hub's counters.
func spendQuota(t *testing.T, hub *testHub, m *mirror) {
	t.Helper()
	spent := hub.std.MovingNext
	if r := m.getManifest(t, spent.Repo, spent.Tag); r.status != http.StatusOK {
		t.Fatalf("GET %s:%s to spend the quota returned %d %s", spent.Repo, spent.Tag, r.status, r.body)
	}
	if left := hub.Remaining("127.0.0.1"); left != 0 {
		t.Fatalf("hub has %d pulls left, want 0", left)
	}
	hub.ResetStats()
}

// fallbackYAML configures fallbacks for the docker.io upstream; each entry
// is a URL and optional extra keys, as YAML flow mapping entries.
func fallbackYAML(entries ...string) string {
	var b strings.Builder
	b.WriteString("    fallbacks:\n")
	for _, e := range entries {
		fmt.Fprintf(&b, "      - {%s}\n", e)
	}
	return b.String()
}

// checkNoPrimaryPull checks that the primary returned 200 to no manifest
// GET, because it rejected every one for the spent quota.
func checkNoPrimaryPull(t *testing.T, hub *testHub) {
	t.Helper()
	stats := hub.Stats()
	for id, n := range stats.Pulls {
		if n > 0 {
			t.Errorf("the primary charged %d pulls to %s, want none: content by digest must come from the fallback", n, id)
		}
	}
	if stats.ManifestGets != stats.RateLimited {
		t.Errorf("the primary saw %d manifest GETs of which %d were refused, want every one refused", stats.ManifestGets, stats.RateLimited)
	}
}

func TestFallbackPullsWhenQuotaSpent(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()
	hub := startHub(t, hubOptions{limit: 1})
	fallback := startHub(t, hubOptions{})
	m := startMirror(t, hub, mirrorConfig{upstreamYAML: fallbackYAML("url: " + fallback.URL())})
	client := newClientEnv(t)
	spendQuota(t, hub, m)
	// The primary's blobs fail too, so they come from the fallback.
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultServerError, Target: hubsim.TargetBlobs})
	want := hub.std.MultiArch

	client.cranePull(t, m.ref(want.Repo+":"+want.Tag)).checkIndexPreserved(t, want)

	checkNoPrimaryPull(t, hub)
	if n := hub.Stats().ManifestHeadsByRepo[want.Repo]; n == 0 {
		t.Errorf("the primary saw no HEAD for %s: the tag must be resolved there", want.Repo)
	}
	if n := fallback.Stats().ManifestGetsByRepo[want.Repo]; n != 1+len(want.Images) {
		t.Errorf("the fallback saw %d manifest GETs for %s, want %d (the index and each image)", n, want.Repo, 1+len(want.Images))
	}

	// Stored now: a second pull needs neither registry's GET.
	fallback.ResetStats()
	client.cranePull(t, m.ref(want.Repo+":"+want.Tag)).checkIndexPreserved(t, want)
	if n := fallback.Stats().ManifestGets; n != 0 {
		t.Errorf("the fallback saw %d manifest GETs on the second pull, want 0", n)
	}
}

func TestFallbackWithWrongBytesRejected(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()
	hub := startHub(t, hubOptions{limit: 1})
	fallback := startHub(t, hubOptions{})
	m := startMirror(t, hub, mirrorConfig{upstreamYAML: fallbackYAML("url: " + fallback.URL())})
	client := newClientEnv(t)
	spendQuota(t, hub, m)
	fallback.SetFault(hubsim.Fault{Kind: hubsim.FaultCorrupt, Target: hubsim.TargetManifests})
	want := hub.std.Alpine
	ref := m.ref(want.Repo + ":" + want.Tag)

	result := client.crane(t, "manifest", ref)
	if result.err == nil {
		t.Fatalf("crane manifest %s succeeded with only a corrupt fallback: %s", ref, result.stdout)
	}

	response := m.getManifest(t, want.Repo, want.Tag)
	if response.status != http.StatusBadGateway {
		t.Fatalf("GET %s:%s returned %d %s, want 502", want.Repo, want.Tag, response.status, response.body)
	}
	if apiErr := firstError(t, response.body); !strings.Contains(apiErr.Message, "wrong digest") {
		t.Errorf("error message %q does not say the digest was wrong", apiErr.Message)
	}
	checkNoPrimaryPull(t, hub)
	if log := m.log(t); !strings.Contains(log, "fallback sent a manifest that does not match its digest") {
		t.Errorf("the mirror log has no line about the rejected fallback")
	}

	// Nothing of the wrong bytes was kept: once the fallback sends the
	// right bytes, the pull gets them.
	fallback.ClearFaults()
	if got := client.craneDigest(t, ref); got != want.Digest {
		t.Errorf("crane digest %s = %s after the fallback recovered, want %s", ref, got, want.Digest)
	}
	response = m.getManifest(t, want.Repo, want.Tag)
	if got := digest.FromBytes(response.body); response.status != http.StatusOK || got != want.Digest {
		t.Errorf("GET %s:%s returned %d with digest %s, want 200 with %s", want.Repo, want.Tag, response.status, got, want.Digest)
	}
}

func TestFallbackPathPrefix(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()
	hub := startHub(t, hubOptions{limit: 1})
	fallback := startHub(t, hubOptions{})
	want := hub.std.Alpine
	moveUnderPrefix(t, fallback, "docker/", want)
	m := startMirror(t, hub, mirrorConfig{upstreamYAML: fallbackYAML(
		`url: ` + fallback.URL() + `, repositories: ["library/*"], path_prefix: docker/`)})
	client := newClientEnv(t)
	spendQuota(t, hub, m)

	layout := client.cranePull(t, m.ref(want.Repo+":"+want.Tag))

	if top := layout.topManifest(t); top.Digest != want.Digest {
		t.Errorf("crane pulled %s, want %s", top.Digest, want.Digest)
	}
	for _, layer := range want.Layers {
		if !layout.hasBlob(layer.Digest) {
			t.Errorf("the layout has no layer %s", layer.Digest)
		}
	}
	checkNoPrimaryPull(t, hub)
	if n := fallback.Stats().ManifestGetsByRepo["docker/"+want.Repo]; n != 1 {
		t.Errorf("the fallback saw %d manifest GETs for docker/%s, want 1", n, want.Repo)
	}
}

// moveUnderPrefix stores img's manifest in hub under prefix+repo, with its
// tag, and deletes the repository without the prefix. hubsim shares blobs
// between repositories, so the layers need no copy.
func moveUnderPrefix(t *testing.T, hub *testHub, prefix string, img hubsim.Image) {
	t.Helper()
	reg, err := upstream.New(upstream.Options{Name: "seed", URL: hub.URL()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := reg.GetManifest(context.Background(), img.Repo, img.Digest.String())
	if err != nil {
		t.Fatalf("read %s@%s from the fallback hub: %v", img.Repo, img.Digest, err)
	}
	hub.PutManifest(prefix+img.Repo, img.Tag, m.MediaType, m.Body)
	if !hub.DeleteRepo(img.Repo) {
		t.Fatalf("delete %s from the fallback hub: not found", img.Repo)
	}
	hub.ResetStats()
}

// log returns what every pullcache process of this mirror logged so far.
func (m *mirror) log(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for i := 1; i <= m.starts; i++ {
		data, err := os.ReadFile(filepath.Join(m.logDir, fmt.Sprintf("pullcache-%d.log", i)))
		if err != nil {
			t.Fatalf("read pullcache log %d: %v", i, err)
		}
		b.Write(data)
	}
	return b.String()
}

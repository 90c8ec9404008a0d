package e2e

import (
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// warmPulls is how many times a stored image is pulled again.
const warmPulls = 20

func TestWarmPullsNoManifestGets(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()
	hub := startHub(t, hubOptions{})
	m := startMirror(t, hub, mirrorConfig{tagTTL: "5m"})
	client := newClientEnv(t)
	want := hub.std.MultiArch
	ref := m.ref(want.Repo + ":" + want.Tag)

	client.cranePull(t, ref).checkIndexPreserved(t, want)
	first := hub.Stats()
	firstGets := first.ManifestGetsByRepo[want.Repo]
	if wantGets := 1 + len(want.Images); firstGets != wantGets {
		t.Errorf("the first pull made %d upstream manifest GETs, want %d (the index and each platform's manifest)", firstGets, wantGets)
	}

	for range warmPulls {
		client.cranePull(t, ref)
	}
	warm := hub.Stats()
	if got := warm.ManifestGetsByRepo[want.Repo]; got != firstGets {
		t.Errorf("after %d warm pulls with tag_ttl 5m, upstream manifest GETs went from %d to %d, want no change", warmPulls, firstGets, got)
	}
	if got := warm.ManifestHeadsByRepo[want.Repo]; got != first.ManifestHeadsByRepo[want.Repo] {
		t.Errorf("after %d warm pulls with tag_ttl 5m, upstream manifest HEADs went from %d to %d, want no change", warmPulls, first.ManifestHeadsByRepo[want.Repo], got)
	}
	if warm.BlobGets != first.BlobGets {
		t.Errorf("after %d warm pulls, upstream blob GETs went from %d to %d, want no change", warmPulls, first.BlobGets, warm.BlobGets)
	}

	m.restart(mirrorConfig{tagTTL: "0"})
	ref = m.ref(want.Repo + ":" + want.Tag)
	for range warmPulls {
		client.cranePull(t, ref).checkIndexPreserved(t, want)
	}
	revalidated := hub.Stats()
	if got := revalidated.ManifestGetsByRepo[want.Repo]; got != firstGets {
		t.Errorf("after %d pulls with tag_ttl 0, upstream manifest GETs went from %d to %d, want no change", warmPulls, firstGets, got)
	}
	heads := revalidated.ManifestHeadsByRepo[want.Repo] - warm.ManifestHeadsByRepo[want.Repo]
	if heads < warmPulls {
		t.Errorf("%d pulls with tag_ttl 0 made %d upstream manifest HEADs, want at least one per pull", warmPulls, heads)
	}
	if revalidated.BlobGets != first.BlobGets {
		t.Errorf("after %d pulls with tag_ttl 0, upstream blob GETs went from %d to %d, want no change", warmPulls, first.BlobGets, revalidated.BlobGets)
	}

	response := m.getManifest(t, want.Repo, want.Tag)
	if got := response.header.Get("X-Cache-Status"); got != "REVALIDATED" {
		t.Errorf("GET of a stored tag with tag_ttl 0 has X-Cache-Status %q, want REVALIDATED", got)
	}
}

func TestDockerHubShortName(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()
	hub := startHub(t, hubOptions{})
	m := startMirror(t, hub, mirrorConfig{tagTTL: "5m"})
	client := newClientEnv(t)
	want := hub.std.Alpine
	shortRepo := strings.TrimPrefix(want.Repo, "library/")

	// crane manifest GETs the manifest, so the tag is stored. crane digest
	// alone would send a HEAD, which the mirror serves without storing.
	short := client.crane(t, "manifest", m.ref(shortRepo+":"+want.Tag))
	if short.err != nil {
		t.Fatalf("crane manifest %s failed: %s", shortRepo, short.failure())
	}
	if got := digest.FromString(short.stdout); got != want.Digest {
		t.Errorf("crane manifest %s:%s returned a manifest with digest %s, want the hub's %s", shortRepo, want.Tag, got, want.Digest)
	}
	gets := hub.Stats().ManifestGetsByRepo[want.Repo]
	if gets != 1 {
		t.Errorf("pulling %s:%s made %d upstream manifest GETs of %s, want 1", shortRepo, want.Tag, gets, want.Repo)
	}

	shortDigest := client.craneDigest(t, m.ref(shortRepo+":"+want.Tag))
	fullDigest := client.craneDigest(t, m.ref(want.Repo+":"+want.Tag))
	if shortDigest != fullDigest {
		t.Errorf("crane digest of %s:%s is %s but of %s:%s is %s, want the same", shortRepo, want.Tag, shortDigest, want.Repo, want.Tag, fullDigest)
	}
	if fullDigest != want.Digest {
		t.Errorf("crane digest of %s:%s is %s, want the hub's %s", want.Repo, want.Tag, fullDigest, want.Digest)
	}

	full := client.crane(t, "manifest", m.ref(want.Repo+":"+want.Tag))
	if full.err != nil {
		t.Fatalf("crane manifest %s failed: %s", want.Repo, full.failure())
	}
	if got := hub.Stats().ManifestGetsByRepo[want.Repo]; got != gets {
		t.Errorf("pulling %s:%s after %s:%s raised upstream manifest GETs from %d to %d, want no change (one cache entry)", want.Repo, want.Tag, shortRepo, want.Tag, gets, got)
	}

	response := m.getManifest(t, want.Repo, want.Tag)
	if got := response.header.Get("X-Cache-Status"); got != "HIT" {
		t.Errorf("GET of %s:%s after pulling %s:%s has X-Cache-Status %q, want HIT", want.Repo, want.Tag, shortRepo, want.Tag, got)
	}
}

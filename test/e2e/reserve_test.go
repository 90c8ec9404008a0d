package e2e

import (
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestQuotaReserveServesMovedTagStale(t *testing.T) {
	t.Parallel()
	hub := startHub(t, hubOptions{limit: 3})
	m := startMirror(t, hub, mirrorConfig{tagTTL: "0", upstreamYAML: "    quota_reserve: 1\n"})
	moving, other, unstored := hub.std.Moving, hub.std.Alpine, hub.std.Big

	get := func(repo, ref string) rawResponse {
		t.Helper()
		r := m.getManifest(t, repo, ref)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s:%s returned %d %s", repo, ref, r.status, r.body)
		}
		return r
	}
	get(moving.Repo, moving.Tag)
	get(other.Repo, other.Tag)
	if left := hub.Remaining("127.0.0.1"); left != 1 {
		t.Fatalf("hub has %d pulls left, want 1 (the reserve)", left)
	}
	if _, err := hub.std.MoveMovingTag(); err != nil {
		t.Fatal(err)
	}

	r := get(moving.Repo, moving.Tag)
	if status := r.header.Get("X-Cache-Status"); status != "STALE" || digest.FromBytes(r.body) != moving.Digest {
		t.Errorf("moved tag at the reserve: %s with digest %s, want STALE with the stored %s", status, digest.FromBytes(r.body), moving.Digest)
	}

	r = get(unstored.Repo, unstored.Tag)
	if status := r.header.Get("X-Cache-Status"); status != "MISS" || digest.FromBytes(r.body) != unstored.Digest {
		t.Errorf("unstored tag at the reserve: %s with digest %s, want MISS with %s", status, digest.FromBytes(r.body), unstored.Digest)
	}
	if left := hub.Remaining("127.0.0.1"); left != 0 {
		t.Errorf("hub has %d pulls left, want 0: the reserved pull goes to the unstored image", left)
	}
}

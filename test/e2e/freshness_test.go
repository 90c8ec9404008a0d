package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestMovedTagRefetched(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()
	hub := startHub(t, hubOptions{})
	const tagTTL = time.Second
	m := startMirror(t, hub, mirrorConfig{tagTTL: tagTTL.String()})
	client := newClientEnv(t)
	old, next := hub.std.Moving, hub.std.MovingNext
	ref := m.ref(old.Repo + ":" + old.Tag)

	// The mirror records the tag as checked at some time between
	// firstCheck and lastCheck.
	firstCheck := time.Now()
	client.cranePull(t, ref)
	if got := client.craneDigest(t, ref); got != old.Digest {
		t.Fatalf("crane digest %s returned %s before the move, want %s", ref, got, old.Digest)
	}
	lastCheck := time.Now()

	moved, err := hub.std.MoveMovingTag()
	if err != nil {
		t.Fatalf("move %s:%s upstream: %v", old.Repo, old.Tag, err)
	}
	if moved != next.Digest {
		t.Fatalf("hubsim moved %s:%s to %s, want %s", old.Repo, old.Tag, moved, next.Digest)
	}

	response := m.getManifest(t, old.Repo, old.Tag)
	if time.Since(firstCheck) < tagTTL {
		if got := digest.Digest(response.header.Get("Docker-Content-Digest")); got != old.Digest {
			t.Errorf("GET within tag_ttl after the move returned %s, want the stored %s", got, old.Digest)
		}
		if got := response.header.Get("X-Cache-Status"); got != "HIT" {
			t.Errorf("GET within tag_ttl after the move has X-Cache-Status %q, want HIT", got)
		}
	}

	time.Sleep(time.Until(lastCheck.Add(tagTTL + 100*time.Millisecond)))

	if got := client.craneDigest(t, ref); got != next.Digest {
		t.Errorf("crane digest %s returned %s after tag_ttl passed, want the moved-to %s", ref, got, next.Digest)
	}
	pulled := client.cranePull(t, ref)
	if got := pulled.topManifest(t).Digest; got != next.Digest {
		t.Errorf("crane pull %s after tag_ttl passed wrote %s, want the moved-to %s", ref, got, next.Digest)
	}
	for _, layer := range next.Layers {
		if !pulled.hasBlob(layer.Digest) {
			t.Errorf("crane pull %s after the move has no layer %s of the new image", ref, layer.Digest)
		}
	}
}

func TestQuotaSpentServesStale(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()
	const limit = 3
	hub := startHub(t, hubOptions{limit: limit})
	m := startMirror(t, hub, mirrorConfig{tagTTL: "0"})
	client := newClientEnv(t)
	old, next := hub.std.Moving, hub.std.MovingNext
	ref := m.ref(old.Repo + ":" + old.Tag)

	client.cranePull(t, ref)
	if got := hub.Stats().ManifestGetsByRepo[old.Repo]; got != 1 {
		t.Errorf("pulling %s made %d upstream manifest GETs, want 1", ref, got)
	}

	// Spend the rest of the quota on manifests that are not stored yet,
	// until the hub rejects a GET with 429.
	spenders := []string{
		hub.std.Alpine.Repo + ":" + hub.std.Alpine.Tag,
		hub.std.Big.Repo + ":" + hub.std.Big.Tag,
		hub.std.ManifestList.Repo + ":" + hub.std.ManifestList.Tag,
		hub.std.MultiArch.Repo + ":" + hub.std.MultiArch.Tag,
	}
	rejected := false
	for _, spender := range spenders {
		repo, tag, _ := strings.Cut(spender, ":")
		response := m.getManifest(t, repo, tag)
		if response.status == http.StatusTooManyRequests {
			rejected = true
			if got := firstError(t, response.body).Code; got != "TOOMANYREQUESTS" {
				t.Errorf("GET %s with the quota spent returned error code %s, want TOOMANYREQUESTS", spender, got)
			}
			break
		}
		if response.status != http.StatusOK {
			t.Fatalf("GET %s while spending the quota returned %d %s, want 200 or 429", spender, response.status, response.body)
		}
	}
	if !rejected {
		t.Fatalf("no manifest GET was rejected after %d pulls with a limit of %d", len(spenders)+1, limit)
	}
	if got := hub.Remaining("127.0.0.1"); got != 0 {
		t.Errorf("the hub has %d pulls left for 127.0.0.1, want 0", got)
	}

	if got := client.craneDigest(t, ref); got != old.Digest {
		t.Errorf("crane digest %s with the quota spent returned %s, want %s (upstream HEADs are free)", ref, got, old.Digest)
	}
	if got := m.getManifest(t, old.Repo, old.Tag).header.Get("X-Cache-Status"); got != "REVALIDATED" {
		t.Errorf("GET %s with the quota spent and the tag unchanged has X-Cache-Status %q, want REVALIDATED", ref, got)
	}

	if _, err := hub.std.MoveMovingTag(); err != nil {
		t.Fatalf("move %s:%s upstream: %v", old.Repo, old.Tag, err)
	}

	for attempt := 1; attempt <= 2; attempt++ {
		if got := client.craneDigest(t, ref); got != old.Digest {
			t.Errorf("pull %d after the move: crane digest %s returned %s, want the stored %s (the moved-to %s cannot be fetched)", attempt, ref, got, old.Digest, next.Digest)
		}

		response := m.getManifest(t, old.Repo, old.Tag)
		if response.status != http.StatusOK {
			t.Fatalf("pull %d after the move: GET %s returned %d %s, want 200", attempt, ref, response.status, response.body)
		}
		if got := response.header.Get("X-Cache-Status"); got != "STALE" {
			t.Errorf("pull %d after the move: GET %s has X-Cache-Status %q, want STALE", attempt, ref, got)
		}
		if got := digest.Digest(response.header.Get("Docker-Content-Digest")); got != old.Digest {
			t.Errorf("pull %d after the move: GET %s returned %s, want the stored %s", attempt, ref, got, old.Digest)
		}
		if got := digest.FromBytes(response.body); got != old.Digest {
			t.Errorf("pull %d after the move: GET %s returned a body with digest %s, want %s", attempt, ref, got, old.Digest)
		}
	}

	pulled := client.cranePull(t, ref)
	if got := pulled.topManifest(t).Digest; got != old.Digest {
		t.Errorf("crane pull %s with the quota spent wrote %s, want the stored %s", ref, got, old.Digest)
	}
}

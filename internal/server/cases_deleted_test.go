package server_test

import (
	"net/http"
	"testing"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// upstreamChange is a way a stored tag stops being pullable upstream.
type upstreamChange struct {
	name  string
	apply func(m *mirror)
	// deletion is true when upstream responds 404, which removes the tag of
	// an authoritative upstream. 401 and 403 are failures, never deletions.
	deletion bool
}

var upstreamChanges = []upstreamChange{
	{"tag deleted", func(m *mirror) {
		if !m.hub.DeleteTag(hubsim.MovingRepo, "v1") {
			m.t.Fatalf("hub had no tag v1 to delete")
		}
	}, true},
	{"repository answers 404 NAME_UNKNOWN", func(m *mirror) {
		m.hub.SetFault(hubsim.Fault{Kind: hubsim.FaultStatus, Status: http.StatusNotFound, Code: "NAME_UNKNOWN",
			Target: hubsim.TargetManifests | hubsim.TargetBlobs | hubsim.TargetOther})
	}, true},
	// Docker Hub responds 401 for a repository that no longer exists,
	// which a client cannot distinguish from a denial.
	{"repository deleted on Docker Hub", func(m *mirror) {
		if !m.hub.DeleteRepo(hubsim.MovingRepo) {
			m.t.Fatalf("hub had no repository %s to delete", hubsim.MovingRepo)
		}
	}, false},
	// The token service and the registry refuse every request, as after
	// the mirror's credentials were revoked.
	{"credentials revoked", func(m *mirror) {
		m.hub.SetFault(hubsim.Fault{Kind: hubsim.FaultStatus, Status: http.StatusUnauthorized})
	}, false},
	{"access denied", func(m *mirror) {
		m.hub.SetFault(hubsim.Fault{Kind: hubsim.FaultStatus, Status: http.StatusForbidden, Code: "DENIED",
			Target: hubsim.TargetManifests | hubsim.TargetBlobs})
	}, false},
}

// tagAnswer is what one request for the tag returned.
type tagAnswer struct {
	status int
	digest string
	cache  string
}

func answerOf(r response) tagAnswer {
	return tagAnswer{status: r.status, digest: r.header.Get("Docker-Content-Digest"), cache: r.header.Get("X-Cache-Status")}
}

func TestDeletedTag(t *testing.T) {
	for _, authoritative := range []bool{false, true} {
		policy := "stale by default"
		if authoritative {
			policy = "upstream authoritative"
		}
		for _, change := range upstreamChanges {
			t.Run(policy+"/"+change.name, func(t *testing.T) {
				m := newMirror(t, mirrorConfig{authoritative: authoritative})
				img := m.std.Moving
				name := hubsim.MovingRepo
				tagPath := manifestPath(name, img.Tag)
				m.pullImage(name, img)

				change.apply(m)

				want := tagAnswer{status: http.StatusOK, digest: img.Digest.String(), cache: "STALE"}
				if authoritative && change.deletion {
					want = tagAnswer{status: http.StatusNotFound}
				}

				for round := 1; round <= 2; round++ {
					m.clock.Advance(defaultTagTTL + 1)

					answers := []tagAnswer{
						answerOf(m.head(tagPath, acceptAll())),
					}
					get := m.get(tagPath, acceptAll())
					answers = append(answers, answerOf(get), answerOf(m.head(tagPath, acceptAll())))
					for i, got := range answers {
						if got.status != want.status || got.digest != want.digest {
							t.Errorf("round %d, request %d (HEAD, GET, HEAD): status %d digest %q, want status %d digest %q",
								round, i+1, got.status, got.digest, want.status, want.digest)
						}
						if want.cache != "" && got.cache != want.cache {
							t.Errorf("round %d, request %d: X-Cache-Status %q, want %s", round, i+1, got.cache, want.cache)
						}
					}
					if want.status == http.StatusNotFound {
						if code, _ := ociError(t, get); code != "MANIFEST_UNKNOWN" {
							t.Errorf("round %d: GET of the deleted tag: code %q, want MANIFEST_UNKNOWN", round, code)
						}
					}

					hubBefore := hubRequests(m.hub)
					byDigest := m.get(manifestPath(name, img.Digest.String()), acceptAll())
					if byDigest.status != http.StatusOK || sha256Digest(byDigest.body) != img.Digest {
						t.Errorf("round %d: GET by digest: status %d, want 200 with the stored manifest", round, byDigest.status)
					}
					for _, d := range imageBlobs(img) {
						blob := m.get(blobPath(name, d), nil)
						if blob.status != http.StatusOK || sha256Digest(blob.body) != d {
							t.Errorf("round %d: GET blob %s: status %d, want 200 with the stored blob", round, d, blob.status)
						}
					}
					if got := hubRequests(m.hub) - hubBefore; got != 0 {
						t.Errorf("round %d: requests by digest reached the hub %d times, want 0", round, got)
					}
				}
			})
		}
	}
}

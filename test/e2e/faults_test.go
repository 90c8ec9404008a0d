package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
)

func TestUpstreamFailureServesStale(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()

	cases := []struct {
		name  string
		fault hubsim.Fault
		// status and code are the mirror's response for content it never stored.
		status int
		code   string
	}{
		{
			name:   "quota",
			fault:  hubsim.Fault{Kind: hubsim.FaultQuota, Target: hubsim.TargetManifests},
			status: http.StatusTooManyRequests,
			code:   "TOOMANYREQUESTS",
		},
		{
			name:   "drop",
			fault:  hubsim.Fault{Kind: hubsim.FaultDrop},
			status: http.StatusServiceUnavailable,
			code:   "UNAVAILABLE",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hub := startHub(t, hubOptions{})
			m := startMirror(t, hub, mirrorConfig{tagTTL: "0"})
			client := newClientEnv(t)
			stored, missing := hub.std.MultiArch, hub.std.Alpine
			ref := m.ref(stored.Repo + ":" + stored.Tag)

			client.cranePull(t, ref).checkIndexPreserved(t, stored)

			hub.SetFault(tc.fault)

			client.cranePull(t, ref).checkIndexPreserved(t, stored)

			response := m.getManifest(t, stored.Repo, stored.Tag)
			if response.status != http.StatusOK {
				t.Fatalf("GET of the stored %s:%s returned %d %s, want 200", stored.Repo, stored.Tag, response.status, response.body)
			}
			if got := response.header.Get("X-Cache-Status"); got != "STALE" {
				t.Errorf("GET of the stored %s:%s has X-Cache-Status %q, want STALE", stored.Repo, stored.Tag, got)
			}
			if got := digest.FromBytes(response.body); got != stored.Digest {
				t.Errorf("GET of the stored %s:%s returned a body with digest %s, want %s", stored.Repo, stored.Tag, got, stored.Digest)
			}

			missingRef := m.ref(missing.Repo + ":" + missing.Tag)
			result := client.crane(t, "manifest", missingRef)
			if result.err == nil {
				t.Errorf("crane manifest %s succeeded with upstream failing and nothing stored: %s", missingRef, result.stdout)
			}
			if !strings.Contains(strings.ToLower(result.stderr), strings.ToLower(tc.code)) {
				t.Errorf("crane manifest %s failed with %q, want a message with %s", missingRef, result.stderr, tc.code)
			}

			response = m.getManifest(t, missing.Repo, missing.Tag)
			if response.status != tc.status {
				t.Fatalf("GET of the never stored %s:%s returned %d %s, want %d", missing.Repo, missing.Tag, response.status, response.body, tc.status)
			}
			apiErr := firstError(t, response.body)
			if apiErr.Code != tc.code {
				t.Errorf("GET of the never stored %s:%s returned error code %s, want %s", missing.Repo, missing.Tag, apiErr.Code, tc.code)
			}
			if !strings.Contains(apiErr.Message, "docker.io") {
				t.Errorf("the error message %q does not name the upstream docker.io", apiErr.Message)
			}
		})
	}
}

func TestBadUpstreamBlobNotStored(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()

	cases := []struct {
		name  string
		fault hubsim.Fault
	}{
		{name: "truncated", fault: hubsim.Fault{Kind: hubsim.FaultTruncate, Target: hubsim.TargetBlobs}},
		{name: "corrupt", fault: hubsim.Fault{Kind: hubsim.FaultCorrupt, Target: hubsim.TargetBlobs}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hub := startHub(t, hubOptions{largeLayerSize: 4 << 20})
			m := startMirror(t, hub, mirrorConfig{})
			client := newClientEnv(t)
			layer := hub.std.Big.Layers[0]
			ref := m.ref(hub.std.Big.Repo + "@" + layer.Digest.String())
			out := filepath.Join(t.TempDir(), "layer")

			hub.SetFault(tc.fault)

			result := client.craneBlob(t, ref, out)
			if result.err == nil {
				t.Errorf("crane blob %s succeeded while upstream sent a %s body", ref, tc.name)
			}
			if got := fileDigest(t, out); got == layer.Digest {
				t.Errorf("crane blob %s wrote the right bytes while upstream sent a %s body", ref, tc.name)
			}

			response := m.request(t, http.MethodGet, hub.std.Big.Repo+"/blobs/"+layer.Digest.String(), "")
			if response.status == http.StatusOK && response.readErr == nil {
				t.Errorf("GET of the blob returned 200 with a complete body of %d bytes (digest %s) while upstream sent a %s body, want a failed transfer",
					len(response.body), digest.FromBytes(response.body), tc.name)
			}

			if _, err := os.Stat(m.blobPath(layer.Digest.Encoded())); err == nil {
				t.Errorf("the store contains %s after upstream sent a %s body", layer.Digest, tc.name)
			}
			checkNoTempFiles(t, m)

			hub.ClearFaults()

			result = client.craneBlob(t, ref, out)
			if result.err != nil {
				t.Fatalf("crane blob %s failed after the fault was cleared: %s", ref, result.failure())
			}
			if got := fileDigest(t, out); got != layer.Digest {
				t.Errorf("crane blob %s wrote bytes with digest %s after the fault was cleared, want %s", ref, got, layer.Digest)
			}
			if got := fileDigest(t, m.blobPath(layer.Digest.Encoded())); got != layer.Digest {
				t.Errorf("the store contains bytes with digest %s for %s, want %s", got, layer.Digest, layer.Digest)
			}
		})
	}
}

// checkNoTempFiles checks that the store's .tmp directory contains no file,
// so that a failed transfer left nothing behind.
func checkNoTempFiles(t *testing.T, m *mirror) {
	t.Helper()

	// A running server also writes small records, such as the status
	// history and the access record, through .tmp for a moment each. A
	// leftover of a failed transfer stays. So the test waits for the
	// folder to become empty instead of checking it at one instant.
	dir := filepath.Join(m.dataDir, ".tmp")
	var names []string
	deadline := time.Now().Add(2 * time.Second)
	for {
		entries, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatalf("list %s: %v", dir, err)
		}
		names = names[:0]
		for _, entry := range entries {
			names = append(names, entry.Name())
		}
		if len(names) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, name := range names {
		t.Errorf("the store's .tmp directory contains %s after a failed transfer", name)
	}
}

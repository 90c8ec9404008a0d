package e2e

import (
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// multiPlatformIndexes returns the two seeded multi-platform images: an OCI
// index and a Docker manifest list.
func multiPlatformIndexes(std hubsim.Standard) []hubsim.Index {
	return []hubsim.Index{std.MultiArch, std.ManifestList}
}

func TestSkopeoCopyAllPlatforms(t *testing.T) {
	requireTool(t, "skopeo")
	t.Parallel()
	hub := startHub(t, hubOptions{})
	m := startMirror(t, hub, mirrorConfig{})
	client := newClientEnv(t)

	for _, want := range multiPlatformIndexes(hub.std) {
		t.Run(want.Repo, func(t *testing.T) {
			// skopeo 1.9 writes only OCI media types into an OCI layout, so
			// it can keep the digests of an OCI index but must convert a
			// Docker manifest list. The manifests it converts are checked
			// with skopeo inspect --raw instead.
			preserve := want.MediaType == v1.MediaTypeImageIndex
			args := []string{"copy", "--all", "--src-tls-verify=false"}
			if preserve {
				args = append(args, "--preserve-digests")
			}
			layout := ociLayout{dir: filepath.Join(t.TempDir(), "layout")}
			args = append(args, "docker://"+m.ref(want.Repo+":"+want.Tag), "oci:"+layout.dir+":"+want.Tag)

			result := client.skopeo(t, args...)
			if result.err != nil {
				t.Fatalf("skopeo copy --all from the mirror failed: %s", result.failure())
			}

			if preserve {
				layout.checkIndexPreserved(t, want)
			} else {
				layout.checkLayersPresent(t, want)
			}

			checkRawManifest(t, client, m.ref(want.Repo+":"+want.Tag), want.Digest)
			for _, image := range want.Images {
				checkRawManifest(t, client, m.ref(want.Repo+"@"+image.Digest.String()), image.Digest)
			}
		})
	}
}

// checkRawManifest checks that the manifest skopeo inspect --raw reads
// from ref hashes to want.
func checkRawManifest(t *testing.T, client *clientEnv, ref string, want digest.Digest) {
	t.Helper()
	result := client.skopeo(t, "inspect", "--raw", "--tls-verify=false", "docker://"+ref)
	if result.err != nil {
		t.Errorf("skopeo inspect --raw %s failed: %s", ref, result.failure())
		return
	}
	if got := digest.FromString(result.stdout); got != want {
		t.Errorf("skopeo inspect --raw %s returned a manifest with digest %s, want the hub's %s", ref, got, want)
	}
}

func TestCranePullAllPlatforms(t *testing.T) {
	requireTool(t, "crane")
	t.Parallel()
	hub := startHub(t, hubOptions{})
	m := startMirror(t, hub, mirrorConfig{})
	client := newClientEnv(t)

	for _, want := range multiPlatformIndexes(hub.std) {
		t.Run(want.Repo, func(t *testing.T) {
			ref := m.ref(want.Repo + ":" + want.Tag)
			client.cranePull(t, ref).checkIndexPreserved(t, want)

			if got := client.craneDigest(t, ref); got != want.Digest {
				t.Errorf("crane digest %s returned %s, want the hub's %s", ref, got, want.Digest)
			}
			for _, image := range want.Images {
				childRef := m.ref(want.Repo + "@" + image.Digest.String())
				if got := client.craneDigest(t, childRef); got != image.Digest {
					t.Errorf("crane digest %s returned %s, want the hub's %s", childRef, got, image.Digest)
				}
			}
		})
	}
}

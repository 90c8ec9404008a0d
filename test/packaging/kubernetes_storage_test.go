package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/pullcache/pullcache/internal/config"
)

// s3UploadMemory is the memory one upload to S3 holds at most: a few
// 8 MiB parts, about 40 MiB, as docs/s3.md states.
const s3UploadMemory = 40 << 20

// checkStorageVolumes checks that the pod gives the configured store the
// room it uses: a filesystem store bounded below its volume, and for S3
// a memory limit for every concurrent upload and a sized spool directory.
func checkStorageVolumes(t *testing.T, where string, set manifestSet, pod corev1.PodSpec, c corev1.Container, mounts map[string]string, cfg config.Config) {
	t.Helper()
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}

	if fs := cfg.Storage.Filesystem; fs != nil {
		checkFilesystemVolume(t, where, set, volumes[mounts[fs.Root]], fs.Root, cfg)
	}
	if cfg.Storage.S3 != nil {
		checkS3Replica(t, where, volumes, c, mounts, cfg)
	}
}

func checkFilesystemVolume(t *testing.T, where string, set manifestSet, v corev1.Volume, root string, cfg config.Config) {
	t.Helper()
	if v.PersistentVolumeClaim == nil {
		t.Errorf("%s: the store root %s is not on a PersistentVolumeClaim", where, root)
		return
	}
	claim := set.claims[v.PersistentVolumeClaim.ClaimName]
	if claim == nil {
		return // checkDeployment reports the missing claim.
	}
	size := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	if cfg.Cache.MaxSize == 0 {
		t.Errorf("%s: cache.max_size is unset, so the store grows until it fills the %s volume", where, size.String())
		return
	}
	if int64(cfg.Cache.MaxSize) >= size.Value() {
		t.Errorf("%s: cache.max_size %s is not below the %s volume; temporary files of fetches need room too", where, cfg.Cache.MaxSize, size.String())
	}
}

func checkS3Replica(t *testing.T, where string, volumes map[string]corev1.Volume, c corev1.Container, mounts map[string]string, cfg config.Config) {
	t.Helper()
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	need := int64(cfg.Limits.MaxUpstreamFetches) * s3UploadMemory
	if !ok || limit.Value() < need {
		t.Errorf("%s: memory limit %s is below limits.max_upstream_fetches (%d) times about 40 MiB per upload to S3 (%s)",
			where, limit.String(), cfg.Limits.MaxUpstreamFetches, resource.NewQuantity(need, resource.BinarySI))
	}

	// The S3 store spools blobs in transfer under the OS temporary
	// directory, $TMPDIR or /tmp.
	spool := "/tmp"
	for _, e := range c.Env {
		if e.Name == "TMPDIR" {
			spool = e.Value
		}
	}
	if v := volumes[mounts[spool]]; v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil {
		t.Errorf("%s: the spool directory %s is not an emptyDir with a sizeLimit", where, spool)
	}
	for path, name := range mounts {
		if v := volumes[name]; path != spool && v.EmptyDir != nil && v.EmptyDir.SizeLimit != nil {
			t.Errorf("%s: sized emptyDir %s is mounted at %s, which an S3 replica does not write; the spool is %s", where, name, path, spool)
		}
	}
}

// TestS3DocsMatchReplicaManifest checks that the Kubernetes example in
// docs/s3.md (and its Japanese version) uses the fetch limit and memory
// limit of deploy/kubernetes/s3-replicas.yaml.
func TestS3DocsMatchReplicaManifest(t *testing.T) {
	set := decodeManifests(t, filepath.Join(repoRoot, kubernetesDir, "s3-replicas.yaml"))
	if len(set.deployments) != 1 {
		t.Fatalf("s3-replicas.yaml has %d Deployments, want 1", len(set.deployments))
	}
	cfg, ok := checkConfigMapConfig(t, "s3-replicas.yaml", set.configMaps["pullcache"])
	if !ok {
		return
	}
	limit := set.deployments[0].Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]

	fetches := regexp.MustCompile(`max_upstream_fetches:\s*(\d+)`)
	memory := regexp.MustCompile(`limits:\s*\{memory:\s*([0-9A-Za-z]+)\}`)
	for _, doc := range []string{"docs/s3.md", "docs/ja/s3.md"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, doc))
		if err != nil {
			t.Fatal(err)
		}
		m := fetches.FindSubmatch(data)
		if m == nil {
			t.Errorf("%s: no max_upstream_fetches in the Kubernetes example", doc)
		} else if n, _ := strconv.Atoi(string(m[1])); n != cfg.Limits.MaxUpstreamFetches {
			t.Errorf("%s: max_upstream_fetches %d, s3-replicas.yaml %d", doc, n, cfg.Limits.MaxUpstreamFetches)
		}
		m = memory.FindSubmatch(data)
		if m == nil {
			t.Errorf("%s: no memory limit in the Kubernetes example", doc)
		} else if q, err := resource.ParseQuantity(string(m[1])); err != nil || q.Cmp(limit) != 0 {
			t.Errorf("%s: memory limit %s, s3-replicas.yaml %s", doc, m[1], limit.String())
		}
	}
}

// TestContainerdHostsMatchesDocs checks that the mirror address in
// deploy/kubernetes/containerd-hosts.toml is the one the containerd page
// uses.
func TestContainerdHostsMatchesDocs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, kubernetesDir, "containerd-hosts.toml"))
	if err != nil {
		t.Fatal(err)
	}
	host := regexp.MustCompile(`(?m)^\[host\."([^"]+)"\]`).FindSubmatch(data)
	if host == nil {
		t.Fatal("containerd-hosts.toml has no [host] table")
	}
	for _, doc := range []string{"docs/clients/containerd.md", "docs/ja/clients/containerd.md"} {
		page, err := os.ReadFile(filepath.Join(repoRoot, doc))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`\[host\."` + regexp.QuoteMeta(string(host[1])) + `"\]`).Match(page) {
			t.Errorf("%s does not use the mirror address %s of containerd-hosts.toml", doc, host[1])
		}
	}
}

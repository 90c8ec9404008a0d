package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullcache/pullcache/internal/storage/s3/s3test"
)

// bucketPrefix is where replicas keep the store inside the test bucket.
const bucketPrefix = "mirror"

// sharedBucket is a bucket on a versitygw that the test started, which
// replicas use as their store.
type sharedBucket struct {
	gw     *s3test.Gateway
	bucket string
}

func startSharedBucket(t *testing.T) *sharedBucket {
	t.Helper()
	gw := s3test.Start(t)
	return &sharedBucket{gw: gw, bucket: gw.CreateBucket(t)}
}

// objectPath returns the file in which versitygw keeps a store key.
func (b *sharedBucket) objectPath(key string) string {
	return filepath.Join(b.gw.Dir, b.bucket, bucketPrefix, filepath.FromSlash(key))
}

// replicaConfig is the part of a replica's configuration a test chooses.
type replicaConfig struct {
	redirect bool
	// cacheYAML, when set, is a whole cache section added to the
	// configuration.
	cacheYAML string
}

// startReplica starts a pullcache whose store is the shared bucket and
// stops it at cleanup. It reuses mirror for waiting, stopping and logs.
func startReplica(t *testing.T, hub *testHub, bucket *sharedBucket, cfg replicaConfig) *mirror {
	t.Helper()
	m := &mirror{t: t, hubURL: hub.URL(), logDir: t.TempDir()}
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			m.dumpLogs()
		}
	})

	var lastErr error
	for range startAttempts {
		addr, adminAddr, err := freeAddrs()
		if err != nil {
			t.Fatalf("pick free ports: %v", err)
		}
		if lastErr = startReplicaOn(m, bucket, addr, adminAddr, cfg); lastErr == nil {
			return m
		}
		if !strings.Contains(lastErr.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("start pullcache replica: %v", lastErr)
	return nil
}

func startReplicaOn(m *mirror, bucket *sharedBucket, addr, adminAddr string, cfg replicaConfig) error {
	m.starts++
	configPath := filepath.Join(m.logDir, fmt.Sprintf("pullcache-%d.yaml", m.starts))
	writeFile(m.t, configPath, fmt.Sprintf(`listen: %s
admin_listen: %s
storage:
  s3:
    bucket: %s
    prefix: %s
    region: %s
    endpoint: %s
    path_style: true
    redirect: %t
%supstreams:
  - name: docker.io
    url: %s
    default: true
`, addr, adminAddr, bucket.bucket, bucketPrefix, s3test.Region, bucket.gw.Endpoint, cfg.redirect, cfg.cacheYAML, m.hubURL))

	cmd := exec.Command(pullcacheBinary, "serve", "--config", configPath)
	cmd.Dir = m.logDir
	// The AWS SDK's default chain finds the static keys in the
	// environment; nothing points it at a file or metadata service.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + m.logDir,
		"TMPDIR=" + m.logDir,
		"AWS_ACCESS_KEY_ID=" + s3test.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s3test.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true",
	}
	return m.launch(cmd, addr, adminAddr)
}

package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// toolTimeout bounds one client run. A pull of the seeded images takes well
// under a second. crane v0.22.1 retries a 429 or 5xx response twice, after
// 1 s and 3 s, so a failing request can take about 5 s per HEAD or GET.
const toolTimeout = 60 * time.Second

// installHint returns how to install the registry clients these tests run.
const installHint = "install it with: sudo bash scripts/install-test-tools.sh"

// requireTool skips the test when the named client is not on PATH, or
// fails it when the environment variable CI is "true", where a missing
// tool must not pass for a green run.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not on PATH and CI=true; %s", name, installHint)
	}
	t.Skipf("%s is not on PATH; %s", name, installHint)
}

// clientEnv is a private HOME for registry clients, so that no credentials,
// registry mirrors or signature policy of this machine leak into a test.
type clientEnv struct {
	home   string
	policy string
}

func newClientEnv(t *testing.T) *clientEnv {
	t.Helper()
	home := t.TempDir()

	policy := filepath.Join(home, "policy.json")
	writeFile(t, policy, `{"default": [{"type": "insecureAcceptAnything"}]}`)
	writeFile(t, filepath.Join(home, "registries.conf"), "unqualified-search-registries = []\n")
	return &clientEnv{home: home, policy: policy}
}

// environ returns a minimal environment: PATH and variables that point
// every configuration lookup of crane and skopeo into the private HOME.
// Proxy variables are left out on purpose.
func (e *clientEnv) environ() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + e.home,
		"TMPDIR=" + e.home,
		"XDG_CONFIG_HOME=" + filepath.Join(e.home, ".config"),
		"XDG_RUNTIME_DIR=" + filepath.Join(e.home, "run"),
		"DOCKER_CONFIG=" + filepath.Join(e.home, ".docker"),
		"REGISTRY_AUTH_FILE=" + filepath.Join(e.home, "auth.json"),
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(e.home, "registries.conf"),
	}
}

// toolResult is the outcome of one client run.
type toolResult struct {
	stdout string
	stderr string
	err    error
}

// failure describes a failed run with everything the client printed.
func (r toolResult) failure() string {
	return fmt.Sprintf("%v\nstderr: %s\nstdout: %s", r.err, r.stderr, r.stdout)
}

// run runs a client to completion within toolTimeout. stdout, when not
// nil, receives the client's standard output instead of the result.
func (e *clientEnv) run(t *testing.T, stdout io.Writer, name string, args ...string) toolResult {
	t.Helper()
	start := time.Now()
	result := runCommand(stdout, e.environ(), e.home, name, args...)
	t.Logf("%s %s: %v in %s", name, strings.Join(args, " "), errOrOK(result.err), time.Since(start).Round(time.Millisecond))
	return result
}

// crane runs crane with args.
func (e *clientEnv) crane(t *testing.T, args ...string) toolResult {
	t.Helper()
	return e.run(t, nil, "crane", args...)
}

// skopeo runs skopeo with args, with the private signature policy.
func (e *clientEnv) skopeo(t *testing.T, args ...string) toolResult {
	t.Helper()
	return e.run(t, nil, "skopeo", append([]string{"--policy", e.policy}, args...)...)
}

// cranePull pulls ref, every platform of an index, with crane into a new
// OCI layout and checks that every blob in it verifies.
func (e *clientEnv) cranePull(t *testing.T, ref string) ociLayout {
	t.Helper()
	layout := ociLayout{dir: filepath.Join(t.TempDir(), "layout")}
	result := e.crane(t, "pull", "--format", "oci", ref, layout.dir)
	if result.err != nil {
		t.Fatalf("crane pull --format oci %s failed: %s", ref, result.failure())
	}
	layout.checkBlobsVerify(t)
	return layout
}

// craneDigest returns what crane digest prints for ref.
func (e *clientEnv) craneDigest(t *testing.T, ref string) digest.Digest {
	t.Helper()
	result := e.crane(t, "digest", ref)
	if result.err != nil {
		t.Fatalf("crane digest %s failed: %s", ref, result.failure())
	}
	return digest.Digest(strings.TrimSpace(result.stdout))
}

// craneBlob runs crane blob ref with its output written to path.
func (e *clientEnv) craneBlob(t *testing.T, ref, path string) toolResult {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	defer f.Close()
	return e.run(t, f, "crane", "blob", ref)
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runPullcache runs a pullcache subcommand with a private environment and
// returns its combined output and exit code.
func runPullcache(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, pullcacheBinary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	output, err := cmd.CombinedOutput()
	if err != nil {
		if exitErr, ok := err.(*exec.ExitError); ok {
			return string(output), exitErr.ExitCode()
		}
		t.Fatalf("run pullcache %s: %v", strings.Join(args, " "), err)
	}
	return string(output), 0
}

var upstreamPullsPattern = regexp.MustCompile(`upstream pulls spent: (\d+)`)

func upstreamPullsOf(t *testing.T, output string) int {
	t.Helper()
	match := upstreamPullsPattern.FindStringSubmatch(output)
	if match == nil {
		t.Fatalf("warm output has no \"upstream pulls spent\" summary:\n%s", output)
	}
	n, _ := strconv.Atoi(match[1])
	return n
}

func TestWarmCommandStoresImages(t *testing.T) {
	t.Parallel()
	hub := startHub(t, hubOptions{})
	m := startMirror(t, hub, mirrorConfig{tagTTL: "5m"})
	list := filepath.Join(t.TempDir(), "images.txt")
	writeFile(t, list, "# images the CI needs\nlibrary/moving:v1\n\nmultiarch:latest  # both platforms\n")

	before := hub.Stats().ManifestGets
	output, code := runPullcache(t, "warm", "--mirror", m.url(), "--all-platforms", "--concurrency", "2",
		"-f", list, "alpine:3.20", "library/nosuchimage:1")
	if code != 1 {
		t.Errorf("warm with a missing image exited %d, want 1; output:\n%s", code, output)
	}
	if !strings.Contains(output, "failed images:\n  library/nosuchimage:1: ") {
		t.Errorf("warm output does not list library/nosuchimage:1 under failed images:\n%s", output)
	}
	if !strings.Contains(output, "warmed 3 of 4 images") {
		t.Errorf("warm output does not report 3 of 4 images warmed:\n%s", output)
	}
	spent := upstreamPullsOf(t, output)
	hubGets := hub.Stats().ManifestGets - before
	// alpine, moving:v1, and the multiarch index with its two platforms.
	if spent != 5 {
		t.Errorf("warm reports %d upstream pulls spent, want 5", spent)
	}
	if hubGets < spent {
		t.Errorf("warm reports %d upstream pulls spent, but the hub counted only %d manifest GETs", spent, hubGets)
	}

	std := hub.std
	for _, layer := range [][]string{
		{"alpine", std.Alpine.Layers[0].Digest.Encoded()},
		{"moving:v1", std.Moving.Layers[0].Digest.Encoded()},
		{"multiarch amd64", std.MultiArch.Images[0].Layers[0].Digest.Encoded()},
		{"multiarch arm64", std.MultiArch.Images[1].Layers[0].Digest.Encoded()},
	} {
		if _, err := os.Stat(m.blobPath(layer[1])); err != nil {
			t.Errorf("layer of %s is not stored after warm: %v", layer[0], err)
		}
	}

	before = hub.Stats().ManifestGets
	output, code = runPullcache(t, "warm", "--mirror", m.url(), "--platform", "linux/arm64", "multiarch", "alpine:3.20")
	if code != 0 {
		t.Fatalf("second warm exited %d:\n%s", code, output)
	}
	if spent := upstreamPullsOf(t, output); spent != 0 {
		t.Errorf("second warm of stored images reports %d upstream pulls spent, want 0:\n%s", spent, output)
	}
	if got := hub.Stats().ManifestGets - before; got != 0 {
		t.Errorf("second warm of stored images made %d upstream manifest GETs, want 0", got)
	}
}

func TestGCCommandRefusesWhileServing(t *testing.T) {
	t.Parallel()
	hub := startHub(t, hubOptions{})
	m := startMirror(t, hub, mirrorConfig{tagTTL: "5m"})
	if output, code := runPullcache(t, "warm", "--mirror", m.url(), "alpine:3.20"); code != 0 {
		t.Fatalf("warm exited %d:\n%s", code, output)
	}

	output, code := runPullcache(t, "gc", "--data", m.dataDir, "--dry-run")
	if code == 0 || !strings.Contains(output, "locked") {
		t.Errorf("gc while the server runs exited %d with output %q, want a failure naming the lock", code, output)
	}

	m.stop()
	// A blob that no manifest names, committed long ago.
	loose := m.blobPath(strings.Repeat("ab", 32))
	writeFile(t, loose, "loose")
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(loose, old, old); err != nil {
		t.Fatal(err)
	}

	output, code = runPullcache(t, "gc", "--data", m.dataDir, "--dry-run")
	if code != 0 || !strings.Contains(output, "would remove 1 unreferenced blobs (5 B)") {
		t.Errorf("gc --dry-run exited %d with output:\n%s\nwant one unreferenced blob of 5 B", code, output)
	}
	if _, err := os.Stat(loose); err != nil {
		t.Errorf("gc --dry-run removed the loose blob: %v", err)
	}
	output, code = runPullcache(t, "gc", "--data", m.dataDir)
	if code != 0 || !strings.Contains(output, "removed 1 unreferenced blobs (5 B)") {
		t.Errorf("gc exited %d with output:\n%s\nwant one unreferenced blob removed", code, output)
	}
	if _, err := os.Stat(loose); !os.IsNotExist(err) {
		t.Errorf("loose blob still there after gc: %v", err)
	}
	if _, err := os.Stat(m.blobPath(hub.std.Alpine.Layers[0].Digest.Encoded())); err != nil {
		t.Errorf("gc removed alpine's layer: %v", err)
	}
}

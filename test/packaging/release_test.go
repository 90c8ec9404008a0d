package packaging

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

const (
	releaseVersion = "v0.0.0-packaging"
	// releaseTimeout bounds one scripts/release.sh run: two static builds,
	// one of them cross-compiled, with a cold build cache.
	releaseTimeout = 10 * time.Minute
)

var releasePlatforms = []struct {
	arch    string
	machine elf.Machine
}{
	{"amd64", elf.EM_X86_64},
	{"arm64", elf.EM_AARCH64},
}

// repoRoot is the module root, relative to this package's directory.
var repoRoot = filepath.Join("..", "..")

// runRelease runs scripts/release.sh into a new directory and returns it.
func runRelease(t *testing.T) string {
	t.Helper()
	dist := filepath.Join(t.TempDir(), "dist")
	start := time.Now()
	if err := releaseInto(dist); err != nil {
		t.Fatal(err)
	}
	t.Logf("scripts/release.sh: ok in %s", time.Since(start).Round(time.Millisecond))
	return dist
}

// releaseInto runs scripts/release.sh for both platforms into dist with
// a fixed version and creation time.
func releaseInto(dist string) error {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, "bash", "scripts/release.sh")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "VERSION="+releaseVersion, "PLATFORMS=linux/amd64 linux/arm64",
		"DIST_DIR="+dist, "SOURCE_DATE_EPOCH=1767225600")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/release.sh failed: %w\n%s", err, output)
	}
	return nil
}

// sharedRelease runs scripts/release.sh once for the tests that only read
// its output, so CI builds the binaries once.
var sharedRelease struct {
	once sync.Once
	dist string
	err  error
}

// releaseOutput returns the directory of the shared release run.
func releaseOutput(t *testing.T) string {
	t.Helper()
	sharedRelease.once.Do(func() {
		dir, err := os.MkdirTemp("", "pullcache-release-")
		if err != nil {
			sharedRelease.err = err
			return
		}
		sharedRelease.dist = filepath.Join(dir, "dist")
		sharedRelease.err = releaseInto(sharedRelease.dist)
	})
	if sharedRelease.err != nil {
		t.Fatal(sharedRelease.err)
	}
	return sharedRelease.dist
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedRelease.dist != "" {
		os.RemoveAll(filepath.Dir(sharedRelease.dist))
	}
	os.Exit(code)
}

func TestReleaseArtifacts(t *testing.T) {
	dist := releaseOutput(t)

	sums := readChecksums(t, dist)
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, entry := range entries {
		if entry.Name() != "SHA256SUMS" {
			files = append(files, entry.Name())
		}
	}
	wantFiles := []string{
		"pullcache-" + releaseVersion + "-image-linux-amd64.tar",
		"pullcache-" + releaseVersion + "-image-linux-arm64.tar",
		"pullcache-" + releaseVersion + "-image-oci.tar",
		"pullcache-" + releaseVersion + "-linux-amd64",
		"pullcache-" + releaseVersion + "-linux-arm64",
	}
	if !slices.Equal(files, wantFiles) {
		t.Errorf("dist holds %q, want %q", files, wantFiles)
	}
	for _, name := range files {
		if got := fileSHA256(t, filepath.Join(dist, name)); sums[name] != got {
			t.Errorf("SHA256SUMS gives %s %q, the file hashes to %q", name, sums[name], got)
		}
	}

	for _, p := range releasePlatforms {
		checkReleaseBinary(t, filepath.Join(dist, "pullcache-"+releaseVersion+"-linux-"+p.arch), p.machine)
	}
}

// checkReleaseBinary checks that a binary is a static executable for the
// machine, built with -trimpath, CGO off and the version stamped in.
func checkReleaseBinary(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s is built for %s, want %s", path, f.Machine, machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("%s has an ELF interpreter; it must be statically linked", path)
		}
	}

	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatalf("read build info of %s: %v", path, err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" {
		t.Errorf("%s: CGO_ENABLED = %q, want 0", path, settings["CGO_ENABLED"])
	}
	if settings["-trimpath"] != "true" {
		t.Errorf("%s: -trimpath = %q, want true", path, settings["-trimpath"])
	}

	// Go does not record -ldflags in the build info of a -trimpath build,
	// so the stamped version is looked for in the binary's data, and read
	// back with the version command where the binary runs here.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(releaseVersion)) {
		t.Errorf("%s does not contain the version %s", path, releaseVersion)
	}
	if f.Machine == hostMachine() {
		output, err := exec.Command(path, "version").Output()
		if err != nil {
			t.Fatalf("%s version: %v", path, err)
		}
		if got, want := strings.TrimSpace(string(output)), "pullcache "+releaseVersion; got != want {
			t.Errorf("%s version printed %q, want %q", path, got, want)
		}
	}
}

func hostMachine() elf.Machine {
	for _, p := range releasePlatforms {
		if p.arch == runtime.GOARCH {
			return p.machine
		}
	}
	return elf.EM_NONE
}

// readChecksums parses sha256sum output: HEX, two spaces, file name.
func readChecksums(t *testing.T, dist string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatalf("open SHA256SUMS: %v", err)
	}
	defer f.Close()

	sums := map[string]string{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		sum, name, ok := strings.Cut(scanner.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not in sha256sum format", scanner.Text())
		}
		sums[name] = sum
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return sums
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("hash %s: %v", path, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestReleaseOCILayoutHasBothPlatforms(t *testing.T) {
	dist := releaseOutput(t)
	dir := t.TempDir()
	untar := exec.Command("tar", "-xf", filepath.Join(dist, "pullcache-"+releaseVersion+"-image-oci.tar"), "-C", dir)
	if output, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("untar the OCI layout: %v\n%s", err, output)
	}

	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("read the OCI layout: %v", err)
	}
	rootManifest, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(rootManifest.Manifests) != 1 {
		t.Fatalf("index.json lists %d entries, want 1", len(rootManifest.Manifests))
	}
	if got := rootManifest.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; got != releaseVersion {
		t.Errorf("index.json tag = %q, want %q", got, releaseVersion)
	}

	index, err := root.ImageIndex(rootManifest.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	indexManifest, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, desc := range indexManifest.Manifests {
		img, err := index.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if desc.Platform == nil || desc.Platform.Architecture != cf.Architecture {
			t.Errorf("index entry %s names platform %+v, its config says %s", desc.Digest, desc.Platform, cf.Architecture)
		}
		if cf.Config.Labels["org.opencontainers.image.version"] != releaseVersion {
			t.Errorf("%s image version label = %q, want %q", cf.Architecture, cf.Config.Labels["org.opencontainers.image.version"], releaseVersion)
		}
		platforms = append(platforms, cf.OS+"/"+cf.Architecture)
	}
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(platforms, want) {
		t.Errorf("image platforms = %q, want %q", platforms, want)
	}
}

func TestReleaseReproducible(t *testing.T) {
	first := readChecksums(t, releaseOutput(t))
	second := readChecksums(t, runRelease(t))
	for name, sum := range first {
		if second[name] != sum {
			t.Errorf("%s differs between two builds of the same source: %s, then %s", name, sum, second[name])
		}
	}
}

func TestImagebuildRejectsWrongArchitecture(t *testing.T) {
	dist := releaseOutput(t)
	cmd := exec.Command("go", "run", "./tools/imagebuild", "--config", "deploy/image/config.yaml",
		"--binary", "linux/amd64="+filepath.Join(dist, "pullcache-"+releaseVersion+"-linux-arm64"),
		"--oci-layout", filepath.Join(t.TempDir(), "oci"))
	cmd.Dir = repoRoot
	output, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("imagebuild accepted an arm64 binary as linux/amd64:\n%s", output)
	}
	if !strings.Contains(string(output), "built for EM_AARCH64") {
		t.Errorf("imagebuild output %q does not name the binary's architecture", output)
	}
}

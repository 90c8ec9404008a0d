package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// fullDiskSize is the size of the store's filesystem in the full-disk test.
const fullDiskSize = "4m"

// privateMirror is a pullcache process in a mount namespace of its own,
// whose data directory is a small tmpfs mounted only in that namespace.
// The test reaches that directory through /proc/PID/root.
type privateMirror struct {
	addr    string
	cmd     *exec.Cmd
	log     string
	dataDir string // the path inside the process's namespace
	exited  chan struct{}
}

// startPrivateMirror starts pullcache under unshare -m on a fresh tmpfs.
// It skips the test where mounting is not allowed, unless CI=true.
func startPrivateMirror(t *testing.T, hub *testHub) *privateMirror {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "mounting a tmpfs needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		skipOrFail(t, "unshare is not on PATH")
	}

	dir := t.TempDir()
	addr, adminAddr, err := freeAddrs()
	if err != nil {
		t.Fatalf("pick free ports: %v", err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "pullcache.yaml")
	writeFile(t, config, fmt.Sprintf("listen: %s\nadmin_listen: %s\nstorage:\n  filesystem:\n    root: %s\n"+
		"upstreams:\n  - name: docker.io\n    url: %s\n", addr, adminAddr, data, hub.URL()))

	m := &privateMirror{addr: addr, log: filepath.Join(dir, "pullcache.log"), dataDir: data, exited: make(chan struct{})}
	logFile, err := os.Create(m.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	script := `mount -t tmpfs -o size=` + fullDiskSize + ` pullcache-test "$1" && exec "$2" serve --config "$3"`
	m.cmd = exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", data, pullcacheBinary, config)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		skipOrFail(t, fmt.Sprintf("start unshare: %v", err))
	}
	go func() {
		m.cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(func() {
		m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(stopTimeout):
			m.cmd.Process.Kill()
		}
		if t.Failed() {
			output, _ := os.ReadFile(m.log)
			t.Logf("pullcache log:\n%s", tail(string(output), maxLogDump))
		}
	})

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-m.exited:
			output, _ := os.ReadFile(m.log)
			skipOrFail(t, fmt.Sprintf("pullcache on a private tmpfs exited at start (%s):\n%s", m.cmd.ProcessState, output))
		default:
		}
		if resp, err := client.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("pullcache on a private tmpfs did not respond within %s", readyTimeout)
	return nil
}

func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s, and CI=true", reason)
	}
	t.Skip(reason)
}

// path returns a path in the store as the test reaches it.
func (m *privateMirror) path(rel string) string {
	return filepath.Join(fmt.Sprintf("/proc/%d/root", m.cmd.Process.Pid), m.dataDir, rel)
}

// fill writes a file until the filesystem has no room left.
func (m *privateMirror) fill(t *testing.T) {
	t.Helper()
	f, err := os.Create(m.path("filler"))
	if err != nil {
		t.Fatalf("create filler: %v", err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for range 1 << 20 {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatalf("fill the store's filesystem: %v", err)
		}
	}
	t.Fatalf("the store's filesystem never filled")
}

// storedFiles lists the files under blobs/, manifests/ and repositories/,
// and under .tmp/.
func (m *privateMirror) storedFiles(t *testing.T) (objects, temporary []string) {
	t.Helper()
	err := filepath.WalkDir(m.path(""), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(m.path(""), path)
		switch first, _, _ := strings.Cut(rel, "/"); first {
		case "blobs", "manifests", "repositories":
			objects = append(objects, rel)
		case ".tmp":
			temporary = append(temporary, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list the store: %v", err)
	}
	return objects, temporary
}

// pullOverHTTP GETs a single-platform image's manifest and blobs, checks
// every digest and returns each response's X-Cache-Status.
func pullOverHTTP(t *testing.T, base, repo, tag string) []string {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(path string, accept string) ([]byte, string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, body)
		}
		return body, resp.Header.Get("X-Cache-Status")
	}

	body, status := get("/v2/"+repo+"/manifests/"+tag, "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
	statuses := []string{status}
	var manifest struct {
		Config struct{ Digest digest.Digest }
		Layers []struct{ Digest digest.Digest }
	}
	if err := json.Unmarshal(body, &manifest); err != nil {
		t.Fatalf("decode manifest of %s:%s: %v", repo, tag, err)
	}
	blobs := []digest.Digest{manifest.Config.Digest}
	for _, l := range manifest.Layers {
		blobs = append(blobs, l.Digest)
	}
	for _, d := range blobs {
		data, status := get("/v2/"+repo+"/blobs/"+d.String(), "")
		sum := sha256.Sum256(data)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != d.String() {
			t.Errorf("blob %s arrived with digest %s", d, got)
		}
		statuses = append(statuses, status)
	}
	return statuses
}

func TestFullDiskStreamsWithoutStoring(t *testing.T) {
	t.Parallel()
	// library/big's layer is larger than what is left on the full disk but
	// fits once the disk is freed.
	hub := startHub(t, hubOptions{largeLayerSize: 1 << 20})
	m := startPrivateMirror(t, hub)
	base := "http://" + m.addr
	m.fill(t)

	for _, image := range [][2]string{{"library/alpine", "3.20"}, {"library/big", "latest"}, {"library/alpine", "3.20"}} {
		for i, status := range pullOverHTTP(t, base, image[0], image[1]) {
			if status != "BYPASS" {
				t.Errorf("pull of %s:%s on a full disk, request %d: X-Cache-Status %s, want BYPASS", image[0], image[1], i, status)
			}
		}
	}
	objects, temporary := m.storedFiles(t)
	if len(objects) != 0 || len(temporary) != 0 {
		t.Errorf("after pulls on a full disk the store holds %v and temporary files %v, want nothing", objects, temporary)
	}
	output, _ := os.ReadFile(m.log)
	if !strings.Contains(string(output), "store write failed") {
		t.Errorf("the log does not report the failed store writes")
	}

	if err := os.Remove(m.path("filler")); err != nil {
		t.Fatalf("free the disk: %v", err)
	}
	for i, status := range pullOverHTTP(t, base, "library/big", "latest") {
		if status != "MISS" {
			t.Errorf("pull of library/big after the disk was freed, request %d: X-Cache-Status %s, want MISS", i, status)
		}
	}
	// The fetch commits before the client receives the last byte, so the
	// next pull finds everything stored.
	for i, status := range pullOverHTTP(t, base, "library/big", "latest") {
		if status != "HIT" {
			t.Errorf("second pull of library/big after the disk was freed, request %d: X-Cache-Status %s, want HIT", i, status)
		}
	}
	output, _ = os.ReadFile(m.log)
	if !strings.Contains(string(output), "storing resumed") {
		t.Errorf("the log does not report that storing resumed")
	}
}

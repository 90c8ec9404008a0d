package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/hubsim"
)

func TestSIGTERMFinishesTransferInFlight(t *testing.T) {
	t.Parallel()
	hub := startHub(t, hubOptions{largeLayerSize: 1 << 20})
	// 16 chunks 50 ms apart: the transfer is still running when SIGTERM
	// arrives.
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultSlow, Target: hubsim.TargetBlobs, Delay: 50 * time.Millisecond, ChunkSize: 64 << 10})
	m := startMirror(t, hub, mirrorConfig{})
	layer := hub.std.Big.Layers[0].Digest

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Get(m.url() + "/v2/library/big/blobs/" + layer.String())
	if err != nil {
		t.Fatalf("GET big layer: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET big layer: status %d", resp.StatusCode)
	}
	hasher := sha256.New()
	if _, err := io.CopyN(hasher, resp.Body, 1); err != nil {
		t.Fatalf("read the first byte: %v", err)
	}

	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM: %v", err)
	}
	// The listener closes at once: a new connection is refused while the
	// transfer goes on.
	refused := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", m.addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		conn.Close()
	}
	if !refused {
		t.Errorf("pullcache still accepted connections 5s after SIGTERM")
	}

	n, err := io.Copy(hasher, resp.Body)
	if err != nil {
		t.Fatalf("the transfer in flight failed after SIGTERM, having read %d bytes: %v", n+1, err)
	}
	if got := "sha256:" + hex.EncodeToString(hasher.Sum(nil)); got != layer.String() {
		t.Errorf("the transfer in flight ended with digest %s, want %s", got, layer)
	}

	select {
	case <-m.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("pullcache did not exit within %s of SIGTERM", stopTimeout)
	}
	if code := m.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("pullcache exited with %d after SIGTERM, want 0", code)
	}

	data, err := os.ReadFile(m.blobPath(layer.Encoded()))
	if err != nil {
		t.Fatalf("the layer transferred during shutdown is not stored: %v", err)
	}
	if sum := sha256.Sum256(data); "sha256:"+hex.EncodeToString(sum[:]) != layer.String() {
		t.Errorf("the stored layer does not match its digest")
	}
	entries, err := os.ReadDir(filepath.Join(m.dataDir, ".tmp"))
	if err != nil {
		t.Fatalf("read .tmp: %v", err)
	}
	if len(entries) != 0 {
		t.Errorf("temporary files left after a clean shutdown: %d", len(entries))
	}
	output, _ := os.ReadFile(filepath.Join(m.logDir, "pullcache-1.log"))
	if !strings.Contains(string(output), "pullcache stopped") {
		t.Errorf("the log does not end with \"pullcache stopped\"")
	}
}

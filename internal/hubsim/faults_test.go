package hubsim_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/hubsim"
)

func TestResponseFaults(t *testing.T) {
	tests := []struct {
		name   string
		fault  hubsim.Fault
		status int
		body   string // exact body, or "" to skip the check
		code   string // OCI error code, or "" to skip the check
	}{
		{"quota", hubsim.Fault{Kind: hubsim.FaultQuota}, 429, "", "TOOMANYREQUESTS"},
		{"abuse", hubsim.Fault{Kind: hubsim.FaultAbuse}, 429, "Too Many Requests (HAP429)", ""},
		{"server error default", hubsim.Fault{Kind: hubsim.FaultServerError}, 503, "", ""},
		{"bad gateway", hubsim.Fault{Kind: hubsim.FaultServerError, Status: 502, Message: "bad gateway"}, 502, "bad gateway", ""},
		{"denied", hubsim.Fault{Kind: hubsim.FaultStatus, Status: 403}, 403, "", "DENIED"},
		{"name unknown", hubsim.Fault{Kind: hubsim.FaultStatus, Status: 404, Code: "NAME_UNKNOWN"}, 404, "", "NAME_UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, _ := startHub(t, hubsim.Options{})
			client := newClient(t)
			token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
			tt.fault.Target = hubsim.TargetManifests
			hub.SetFault(tt.fault)

			resp := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())

			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.body != "" && string(resp.body) != tt.body {
				t.Errorf("body = %q, want %q", resp.body, tt.body)
			}
			if tt.name == "server error default" && len(resp.body) != 0 {
				t.Errorf("body = %q, want empty", resp.body)
			}
			if tt.code != "" && errorCode(t, resp.body) != tt.code {
				t.Errorf("code = %q, want %q", errorCode(t, resp.body), tt.code)
			}
			if hub.Stats().FaultsInjected != 1 {
				t.Errorf("FaultsInjected = %d, want 1", hub.Stats().FaultsInjected)
			}
		})
	}
}

func TestQuotaFaultHeaders(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultQuota, Target: hubsim.TargetManifests})

	resp := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())

	if got := resp.Header.Get("ratelimit-remaining"); got != "0;w=21600" {
		t.Errorf("ratelimit-remaining = %q, want 0;w=21600", got)
	}
	if !strings.Contains(errorMessage(resp.body), "https://www.docker.com/increase-rate-limit") {
		t.Errorf("message = %q, want the increase-rate-limit link", errorMessage(resp.body))
	}
}

func TestFaultCountAndMethod(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	target := manifestURL(hub, hubsim.AlpineRepo, "3.20")
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultServerError, Target: hubsim.TargetManifests, Method: http.MethodHead, Count: 2})

	got := []int{
		mustSend(t, client, http.MethodGet, target, token, acceptAll()).StatusCode,
		mustSend(t, client, http.MethodHead, target, token, acceptAll()).StatusCode,
		mustSend(t, client, http.MethodHead, target, token, acceptAll()).StatusCode,
		mustSend(t, client, http.MethodHead, target, token, acceptAll()).StatusCode,
	}

	want := []int{200, 503, 503, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: status = %d, want %d", i, got[i], want[i])
		}
	}
}

func TestFaultRepoFilter(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo, hubsim.MovingRepo)
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultStatus, Status: 404, Repo: hubsim.MovingRepo})

	if got := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll()).StatusCode; got != 200 {
		t.Errorf("other repository: status = %d, want 200", got)
	}
	if got := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.MovingRepo, "v1"), token, acceptAll()).StatusCode; got != 404 {
		t.Errorf("faulted repository: status = %d, want 404", got)
	}
}

func TestDropFault(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	// Without a Count: net/http retries a GET once when a reused
	// connection closes before any response, which would consume a Count 1.
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultDrop, Target: hubsim.TargetManifests})

	resp := send(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())

	if resp.err == nil {
		t.Fatalf("request succeeded with status %d, want a connection error", resp.StatusCode)
	}
	hub.ClearFaults()
	if retry := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll()); retry.StatusCode != 200 {
		t.Errorf("after the fault: status = %d, want 200", retry.StatusCode)
	}
}

func TestBlackHoleFault(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultBlackHole, Target: hubsim.TargetManifests})

	client.Timeout = 300 * time.Millisecond
	start := time.Now()
	resp := send(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())

	if resp.err == nil {
		t.Fatalf("request got status %d, want a timeout", resp.StatusCode)
	}
	if elapsed := time.Since(start); elapsed < 250*time.Millisecond {
		t.Errorf("request failed after %s, before the client timeout", elapsed)
	}

	// Close releases a blocked request.
	client.Timeout = 10 * time.Second
	done := make(chan response, 1)
	go func() {
		done <- send(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())
	}()
	time.Sleep(100 * time.Millisecond)
	hub.Close()
	select {
	case blocked := <-done:
		if blocked.err == nil {
			t.Errorf("blocked request got status %d after Close, want an error", blocked.StatusCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the black-holed request")
	}
}

func TestSlowFault(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	config := std.Alpine.Config
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultSlow, Target: hubsim.TargetBlobs, ChunkSize: 100, Delay: 20 * time.Millisecond})

	start := time.Now()
	resp := mustSend(t, client, http.MethodGet, blobURL(hub, hubsim.AlpineRepo, config.Digest.String()), token, nil)
	elapsed := time.Since(start)

	chunks := (config.Size + 99) / 100
	if minimum := time.Duration(chunks) * 20 * time.Millisecond; elapsed < minimum {
		t.Errorf("elapsed = %s, want at least %s for %d chunks", elapsed, minimum, chunks)
	}
	if digest.FromBytes(resp.body) != config.Digest {
		t.Error("slow body does not match the blob")
	}
}

func TestTruncateFault(t *testing.T) {
	for _, cdn := range []bool{false, true} {
		name := "registry"
		opts := hubsim.Options{}
		if cdn {
			name = "cdn"
			opts.CDNAddr = "127.0.0.2:0"
		}
		t.Run(name, func(t *testing.T) {
			hub, std := startHub(t, opts)
			client := newClient(t)
			client.CheckRedirect = nil
			token := fetchToken(t, client, hub, "", "", hubsim.BigRepo)
			layer := std.Big.Layers[0]
			hub.SetFault(hubsim.Fault{Kind: hubsim.FaultTruncate, Target: hubsim.TargetBlobs, After: 4096, Count: 1})

			req, _ := http.NewRequest(http.MethodGet, blobURL(hub, hubsim.BigRepo, layer.Digest.String()), nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			defer resp.Body.Close()
			if resp.ContentLength != layer.Size {
				t.Errorf("Content-Length = %d, want %d", resp.ContentLength, layer.Size)
			}
			got, err := io.ReadAll(resp.Body)
			if err == nil {
				t.Fatalf("read %d bytes without error, want a cut transfer", len(got))
			}
			if len(got) != 4096 {
				t.Errorf("read %d bytes before the cut, want 4096", len(got))
			}
		})
	}
}

func TestCorruptFault(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.BigRepo)
	layer := std.Big.Layers[0]
	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultCorrupt, Target: hubsim.TargetBlobs, Count: 1})

	bad := mustSend(t, client, http.MethodGet, blobURL(hub, hubsim.BigRepo, layer.Digest.String()), token, nil)
	good := mustSend(t, client, http.MethodGet, blobURL(hub, hubsim.BigRepo, layer.Digest.String()), token, nil)

	if int64(len(bad.body)) != layer.Size {
		t.Errorf("corrupt body length = %d, want %d", len(bad.body), layer.Size)
	}
	if digest.FromBytes(bad.body) == layer.Digest {
		t.Error("corrupt body still matches the digest")
	}
	if digest.FromBytes(good.body) != layer.Digest {
		t.Error("body after the fault does not match the digest")
	}
}

func TestTokenServiceDown(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{TokenAddr: "127.0.0.3:0"})
	client := newClient(t)

	hub.SetFault(hubsim.Fault{Kind: hubsim.FaultServerError, Target: hubsim.TargetToken, Count: 1})
	if resp := mustSend(t, client, http.MethodGet, hub.TokenURL()+"?service=registry.docker.io", "", nil); resp.StatusCode != 503 {
		t.Errorf("token with fault: status = %d, want 503", resp.StatusCode)
	}

	if err := hub.Suspend(hubsim.ServiceToken); err != nil {
		t.Fatalf("suspend: %v", err)
	}
	resp := send(t, client, http.MethodGet, hub.TokenURL()+"?service=registry.docker.io", "", nil)
	if resp.err == nil || !strings.Contains(resp.err.Error(), "refused") {
		t.Errorf("token while suspended: err = %v, want connection refused", resp.err)
	}

	if err := hub.Resume(hubsim.ServiceToken); err != nil {
		t.Fatalf("resume: %v", err)
	}
	fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	if hub.Stats().TokenRequests != 2 {
		t.Errorf("TokenRequests = %d, want 2", hub.Stats().TokenRequests)
	}
}

func TestRegistrySuspended(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)

	if err := hub.Suspend(hubsim.ServiceRegistry); err != nil {
		t.Fatalf("suspend: %v", err)
	}
	resp := send(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())
	var opErr interface{ Timeout() bool }
	if resp.err == nil || errors.As(resp.err, &opErr) && opErr.Timeout() {
		t.Errorf("err = %v, want connection refused", resp.err)
	}

	if err := hub.Resume(hubsim.ServiceRegistry); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if got := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll()).StatusCode; got != 200 {
		t.Errorf("after resume: status = %d, want 200", got)
	}
}

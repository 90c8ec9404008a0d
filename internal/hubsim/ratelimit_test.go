package hubsim_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/hubsim"
)

func TestGetCountsHeadDoesNot(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{Limit: 10})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.MultiArchRepo)

	for range 3 {
		mustSend(t, client, http.MethodHead, manifestURL(hub, hubsim.MultiArchRepo, "latest"), token, acceptAll())
	}
	index := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.MultiArchRepo, "latest"), token, acceptAll())
	child := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.MultiArchRepo, std.MultiArch.Images[0].Digest.String()), token, acceptAll())
	mustSend(t, client, http.MethodGet, blobURL(hub, hubsim.MultiArchRepo, std.MultiArch.Images[0].Config.Digest.String()), token, nil)

	if got := index.Header.Get("ratelimit-remaining"); got != "9;w=21600" {
		t.Errorf("remaining after first GET = %q, want 9;w=21600", got)
	}
	if got := child.Header.Get("ratelimit-remaining"); got != "8;w=21600" {
		t.Errorf("remaining after second GET = %q, want 8;w=21600", got)
	}
	if got := child.Header.Get("ratelimit-limit"); got != "10;w=21600" {
		t.Errorf("ratelimit-limit = %q, want 10;w=21600", got)
	}
	if got := child.Header.Get("docker-ratelimit-source"); got != "127.0.0.1" {
		t.Errorf("docker-ratelimit-source = %q, want 127.0.0.1", got)
	}

	stats := hub.Stats()
	if stats.PullsBy("127.0.0.1") != 2 {
		t.Errorf("pulls = %d, want 2", stats.PullsBy("127.0.0.1"))
	}
	if stats.ManifestGets != 2 || stats.ManifestHeads != 3 || stats.BlobGets != 1 {
		t.Errorf("ManifestGets %d, ManifestHeads %d, BlobGets %d; want 2, 3, 1", stats.ManifestGets, stats.ManifestHeads, stats.BlobGets)
	}
	if got := hub.Remaining("127.0.0.1"); got != 8 {
		t.Errorf("Remaining = %d, want 8", got)
	}
}

func TestQuotaSpent(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{Limit: 2})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	target := manifestURL(hub, hubsim.AlpineRepo, "3.20")

	for i := range 2 {
		if resp := mustSend(t, client, http.MethodGet, target, token, acceptAll()); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %d: status = %d", i, resp.StatusCode)
		}
	}

	spent := mustSend(t, client, http.MethodGet, target, token, acceptAll())
	if spent.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429", spent.StatusCode)
	}
	want := `{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit as '127.0.0.1'. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"}]}`
	if string(spent.body) != want {
		t.Errorf("body = %s\nwant %s", spent.body, want)
	}
	if got := spent.Header.Get("ratelimit-remaining"); got != "0;w=21600" {
		t.Errorf("ratelimit-remaining = %q, want 0;w=21600", got)
	}

	head := mustSend(t, client, http.MethodHead, target, token, acceptAll())
	if head.StatusCode != http.StatusOK {
		t.Errorf("HEAD status = %d, want 200", head.StatusCode)
	}
	if got := head.Header.Get("ratelimit-remaining"); got != "0;w=21600" {
		t.Errorf("HEAD ratelimit-remaining = %q, want 0;w=21600", got)
	}
	if got := head.Header.Get("Docker-Content-Digest"); got == "" {
		t.Error("HEAD at zero has no Docker-Content-Digest")
	}

	stats := hub.Stats()
	if stats.RateLimited != 1 {
		t.Errorf("RateLimited = %d, want 1", stats.RateLimited)
	}
	if stats.PullsBy("127.0.0.1") != 2 {
		t.Errorf("pulls = %d, want 2 (a refused GET is not a pull)", stats.PullsBy("127.0.0.1"))
	}
}

func TestWindowRollover(t *testing.T) {
	clock := newFakeClock()
	hub, _ := startHub(t, hubsim.Options{Limit: 1, Window: time.Hour, Clock: clock.Now, TokenTTL: 24 * time.Hour})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	target := manifestURL(hub, hubsim.AlpineRepo, "3.20")

	first := mustSend(t, client, http.MethodGet, target, token, acceptAll())
	if got := first.Header.Get("ratelimit-limit"); got != "1;w=3600" {
		t.Errorf("ratelimit-limit = %q, want 1;w=3600", got)
	}

	clock.Advance(59 * time.Minute)
	if resp := mustSend(t, client, http.MethodGet, target, token, acceptAll()); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("inside the window: status = %d, want 429", resp.StatusCode)
	}

	clock.Advance(time.Minute)
	if got := hub.Remaining("127.0.0.1"); got != 1 {
		t.Errorf("Remaining after the window = %d, want 1", got)
	}
	if resp := mustSend(t, client, http.MethodGet, target, token, acceptAll()); resp.StatusCode != http.StatusOK {
		t.Errorf("after the window: status = %d, want 200", resp.StatusCode)
	}
}

func TestAccountIdentity(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{
		Limit:    1,
		Accounts: map[string]hubsim.Account{"alice": {Password: "pw"}, "paid": {Password: "pw", Unlimited: true}},
	})
	client := newClient(t)
	target := manifestURL(hub, hubsim.AlpineRepo, "3.20")

	alice := fetchToken(t, client, hub, "alice", "pw", hubsim.AlpineRepo)
	resp := mustSend(t, client, http.MethodGet, target, alice, acceptAll())

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if got := resp.Header.Get("ratelimit-limit"); got != "200;w=21600" {
		t.Errorf("ratelimit-limit = %q, want the account default 200;w=21600", got)
	}
	source := resp.Header.Get("docker-ratelimit-source")
	if source != hubsim.AccountID("alice") || len(source) != 36 || strings.Count(source, "-") != 4 {
		t.Errorf("docker-ratelimit-source = %q, want alice's UUID-shaped id %s", source, hubsim.AccountID("alice"))
	}
	if hub.PullsBy("alice") != 1 || hub.PullsBy(source) != 1 || hub.PullsBy("127.0.0.1") != 0 {
		t.Errorf("pulls: alice %d, by id %d, anonymous %d; want 1, 1, 0", hub.PullsBy("alice"), hub.PullsBy(source), hub.PullsBy("127.0.0.1"))
	}
	if hub.Remaining("alice") != 199 {
		t.Errorf("Remaining(alice) = %d, want 199", hub.Remaining("alice"))
	}

	paid := fetchToken(t, client, hub, "paid", "pw", hubsim.AlpineRepo)
	for range 3 {
		resp := mustSend(t, client, http.MethodGet, target, paid, acceptAll())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("paid account: status = %d", resp.StatusCode)
		}
		if got := resp.Header.Get("ratelimit-limit"); got != "" {
			t.Errorf("paid account: ratelimit-limit = %q, want none", got)
		}
	}
	if hub.PullsBy("paid") != 3 {
		t.Errorf("paid pulls = %d, want 3", hub.PullsBy("paid"))
	}
}

func TestNoRateLimitHeaders(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{Limit: 1, NoRateLimitHeaders: true})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)

	for i := range 3 {
		resp := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %d: status = %d, want 200", i, resp.StatusCode)
		}
		for _, name := range []string{"ratelimit-limit", "ratelimit-remaining", "docker-ratelimit-source"} {
			if got := resp.Header.Get(name); got != "" {
				t.Errorf("%s = %q, want none", name, got)
			}
		}
	}
}

func TestQuotaPerClientAddress(t *testing.T) {
	hub := hubsim.New(hubsim.Options{Limit: 1, Logf: t.Logf})
	hub.SeedStandard(smallLayerSize)
	if err := hub.Start("127.0.0.2:0"); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(hub.Close)

	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())

	// A client on another source address has its own quota.
	dialer := &http.Transport{DisableCompression: true}
	dialer.DialContext = localDialer("127.0.0.3").DialContext
	t.Cleanup(dialer.CloseIdleConnections)
	other := &http.Client{Transport: dialer, Timeout: 10 * time.Second}

	resp := mustSend(t, other, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("second address: status = %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get("docker-ratelimit-source"); got != "127.0.0.3" {
		t.Errorf("docker-ratelimit-source = %q, want 127.0.0.3", got)
	}
	if hub.Remaining("127.0.0.1") != 0 || hub.Remaining("127.0.0.3") != 0 {
		t.Errorf("Remaining: %d and %d, want 0 and 0", hub.Remaining("127.0.0.1"), hub.Remaining("127.0.0.3"))
	}
}

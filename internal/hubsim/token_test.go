package hubsim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/hubsim"
)

func TestPingWithoutTokenChallenges(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{})
	client := newClient(t)

	resp := mustSend(t, client, http.MethodGet, hub.URL()+"/v2/", "", nil)

	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", resp.StatusCode)
	}
	want := `Bearer realm="` + hub.TokenURL() + `",service="registry.docker.io"`
	if got := resp.Header.Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
	if got := resp.Header.Get("Docker-Distribution-Api-Version"); got != "registry/2.0" {
		t.Errorf("Docker-Distribution-Api-Version = %q", got)
	}

	token := fetchToken(t, client, hub, "", "")
	if resp := mustSend(t, client, http.MethodGet, hub.URL()+"/v2/", token, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("ping with token: status = %d, want 200", resp.StatusCode)
	}
	if got := hub.Stats().Pings; got != 2 {
		t.Errorf("Pings = %d, want 2", got)
	}
}

func TestTokenResponseFields(t *testing.T) {
	clock := newFakeClock()
	hub, _ := startHub(t, hubsim.Options{Clock: clock.Now, TokenAddr: "127.0.0.3:0"})
	client := newClient(t)

	if !strings.HasPrefix(hub.TokenURL(), "http://127.0.0.3:") {
		t.Fatalf("TokenURL = %q, want a 127.0.0.3 address", hub.TokenURL())
	}
	query := url.Values{"service": {hubsim.Service}, "scope": {"repository:library/alpine:pull"}}
	resp := mustSend(t, client, http.MethodGet, hub.TokenURL()+"?"+query.Encode(), "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, resp.body)
	}

	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		IssuedAt    string `json:"issued_at"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		t.Fatalf("decode %s: %v", resp.body, err)
	}
	if body.Token == "" || body.Token != body.AccessToken {
		t.Errorf("token = %q, access_token = %q, want equal and non-empty", body.Token, body.AccessToken)
	}
	if body.ExpiresIn != 300 {
		t.Errorf("expires_in = %d, want 300", body.ExpiresIn)
	}
	issued, err := time.Parse(time.RFC3339, body.IssuedAt)
	if err != nil || !issued.Equal(clock.Now()) {
		t.Errorf("issued_at = %q (%v), want %s", body.IssuedAt, err, clock.Now())
	}

	// The registry's challenge names the separate token service.
	challenge := mustSend(t, client, http.MethodGet, hub.URL()+"/v2/", "", nil)
	if got := challenge.Header.Get("WWW-Authenticate"); !strings.Contains(got, `realm="`+hub.TokenURL()+`"`) {
		t.Errorf("WWW-Authenticate = %q, want realm %s", got, hub.TokenURL())
	}
}

func TestTokenWrongPassword(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{Accounts: map[string]hubsim.Account{"alice": {Password: "secret"}}})
	client := newClient(t)

	req, _ := http.NewRequest(http.MethodGet, hub.TokenURL()+"?service=registry.docker.io&scope=repository:library/alpine:pull", nil)
	req.SetBasicAuth("alice", "wrong")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", resp.StatusCode)
	}
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode body: %v", err)
	}
	if body["details"] != "incorrect username or password" {
		t.Errorf("details = %q", body["details"])
	}
}

func TestTokenPostPasswordGrant(t *testing.T) {
	hub, std := startHub(t, hubsim.Options{Accounts: map[string]hubsim.Account{"alice": {Password: "secret"}}})
	client := newClient(t)

	form := url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"secret"},
		"service": {hubsim.Service}, "scope": {"repository:library/alpine:pull"}, "client_id": {"test"},
	}
	resp, err := client.PostForm(hub.TokenURL(), form)
	if err != nil {
		t.Fatalf("post token: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode: %v", err)
	}

	got := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, std.Alpine.Digest.String()), body.AccessToken, acceptAll())
	if got.StatusCode != http.StatusOK {
		t.Errorf("manifest GET with POST token: status = %d", got.StatusCode)
	}
	if src := got.Header.Get("docker-ratelimit-source"); src != hubsim.AccountID("alice") {
		t.Errorf("docker-ratelimit-source = %q, want alice's account id", src)
	}
}

func TestScopeEnforcement(t *testing.T) {
	clock := newFakeClock()
	hub, _ := startHub(t, hubsim.Options{Clock: clock.Now})
	client := newClient(t)

	alpineToken := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	expiredToken := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	clock.Advance(301 * time.Second)
	freshToken := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	missingToken := fetchToken(t, client, hub, "", "", "library/doesnotexist")

	tests := []struct {
		name      string
		repo      string
		token     string
		status    int
		wantError string // error= parameter of the challenge, "" for none
	}{
		{"no token", hubsim.AlpineRepo, "", http.StatusUnauthorized, ""},
		{"token for another repository", hubsim.BigRepo, freshToken, http.StatusUnauthorized, "insufficient_scope"},
		{"repository that does not exist", "library/doesnotexist", missingToken, http.StatusUnauthorized, "insufficient_scope"},
		{"expired token", hubsim.AlpineRepo, expiredToken, http.StatusUnauthorized, "invalid_token"},
		{"unknown token", hubsim.AlpineRepo, "not-a-token", http.StatusUnauthorized, "invalid_token"},
		{"expired before the clock moved", hubsim.AlpineRepo, alpineToken, http.StatusUnauthorized, "invalid_token"},
		{"fresh token", hubsim.AlpineRepo, freshToken, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := mustSend(t, client, http.MethodGet, manifestURL(hub, tt.repo, "3.20"), tt.token, acceptAll())
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.status, resp.body)
			}
			if tt.status != http.StatusUnauthorized {
				return
			}

			challenge := resp.Header.Get("WWW-Authenticate")
			if !hasParam(challenge, `scope="repository:`+tt.repo+`:pull"`) {
				t.Errorf("WWW-Authenticate = %q, want scope of %s", challenge, tt.repo)
			}
			if tt.wantError != "" && !hasParam(challenge, `error="`+tt.wantError+`"`) {
				t.Errorf("WWW-Authenticate = %q, want error=%q", challenge, tt.wantError)
			}
			if tt.wantError == "" && hasParam(challenge, "error=") {
				t.Errorf("WWW-Authenticate = %q, want no error parameter", challenge)
			}
			if code := errorCode(t, resp.body); code != "UNAUTHORIZED" {
				t.Errorf("error code = %q, want UNAUTHORIZED", code)
			}
		})
	}
}

func TestDeletedRepoAnswers401(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{})
	client := newClient(t)

	if !hub.DeleteRepo(hubsim.AlpineRepo) {
		t.Fatal("DeleteRepo reported no repository")
	}
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)
	resp := mustSend(t, client, http.MethodGet, manifestURL(hub, hubsim.AlpineRepo, "3.20"), token, acceptAll())

	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", resp.StatusCode)
	}
}

func TestCatalogAndPushRejected(t *testing.T) {
	hub, _ := startHub(t, hubsim.Options{})
	client := newClient(t)
	token := fetchToken(t, client, hub, "", "", hubsim.AlpineRepo)

	tests := []struct {
		name   string
		method string
		path   string
		status int
	}{
		{"catalog", http.MethodGet, "/v2/_catalog", http.StatusUnauthorized},
		{"start upload", http.MethodPost, "/v2/library/alpine/blobs/uploads/", http.StatusUnauthorized},
		{"put manifest", http.MethodPut, "/v2/library/alpine/manifests/new", http.StatusUnauthorized},
		{"delete manifest", http.MethodDelete, "/v2/library/alpine/manifests/3.20", http.StatusUnauthorized},
		{"options manifest", http.MethodOptions, "/v2/library/alpine/manifests/3.20", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := mustSend(t, client, tt.method, hub.URL()+tt.path, token, nil)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
}

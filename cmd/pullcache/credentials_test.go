package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullcache/pullcache/internal/awssim"
	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/hubsim"
)

const (
	testRegion   = "us-east-1"
	testUser     = "ciuser"
	testPassword = "dckr_pat_cmd-test-password"
	testLiteral  = "literal-password-value"
)

// startAWS starts the AWS stand-in with the Docker Hub secret and points the
// SDK at it through the environment.
func startAWS(t *testing.T) *awssim.Server {
	t.Helper()

	sim := awssim.StartTest(t)
	sim.Setenv(t, testRegion)
	sim.PutSecret(testRegion, "docker-hub", fmt.Sprintf(`{"username":%q,"password":%q}`, testUser, testPassword))
	return sim
}

// writeTestConfig writes a configuration with docker.io at hubURL, using
// the given username and password values.
func writeTestConfig(t *testing.T, hubURL, username, password, extra string) string {
	t.Helper()

	body := fmt.Sprintf(`listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
upstreams:
  - name: docker.io
    url: %s
    default: true
    username: %s
    password: %s
%s`, hubURL, username, password, extra)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runWithInput runs the root command with stdin, returning stdout and
// stderr apart.
func runWithInput(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()

	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func requireNoSecret(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s reveals a secret value:\n%s", where, text)
		}
	}
}

func TestConfigCheckResolvesAndMasks(t *testing.T) {
	startAWS(t)
	extra := `  - name: ghcr.io
    url: http://127.0.0.1:1
    username: octo
    password: ` + testLiteral + "\n"
	path := writeTestConfig(t, "http://127.0.0.1:1", "secretsmanager:docker-hub:username", "secretsmanager:docker-hub:password", extra)

	out, errOut, err := runWithInput(t, "", "config", "check", "--config", path)
	if err != nil {
		t.Fatalf("config check: %v\n%s%s", err, out, errOut)
	}

	for _, want := range []string{
		"password: secretsmanager:docker-hub:password",
		`password: '***'`,
		`docker.io: resolved, user "ciuser" (username secretsmanager:docker-hub:username, password secretsmanager:docker-hub:password)`,
		`ghcr.io: resolved, user "octo"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	requireNoSecret(t, "config check output", out+errOut, testPassword, testLiteral)
}

func TestConfigCheckFailsOnUnresolvableReference(t *testing.T) {
	sim := startAWS(t)
	sim.PutSecret(testRegion, "denied", testPassword)
	sim.Deny("denied")
	extra := `  - name: ghcr.io
    url: http://127.0.0.1:1
    username: octo
    password: secretsmanager:denied
`
	path := writeTestConfig(t, "http://127.0.0.1:1", "secretsmanager:docker-hub:username", "secretsmanager:docker-hub:token", extra)

	out, errOut, err := runWithInput(t, "", "config", "check", "--config", path)
	if err == nil {
		t.Fatalf("config check succeeded with a missing key:\n%s", out)
	}
	for _, want := range []string{"upstream docker.io", `"secretsmanager:docker-hub:token"`, `no key "token"`, "upstream ghcr.io", "access denied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q: %v", want, err)
		}
	}
	if !strings.Contains(out, "docker.io: NOT RESOLVED") {
		t.Errorf("output does not mark docker.io as not resolved:\n%s", out)
	}
	requireNoSecret(t, "config check output and error", out+errOut+err.Error(), testPassword)
}

func TestServeStopsOnUnresolvableReference(t *testing.T) {
	startAWS(t)
	path := writeTestConfig(t, "http://127.0.0.1:1", "secretsmanager:docker-hub:username", "secretsmanager:docker-hub:token", "")

	_, _, err := runWithInput(t, "", "serve", "--config", path, "--data", t.TempDir())
	if err == nil {
		t.Fatal("serve started with an unresolvable reference")
	}
	for _, want := range []string{"upstreams[0]", "upstream docker.io", `"secretsmanager:docker-hub:token"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q: %v", want, err)
		}
	}
	requireNoSecret(t, "serve error", err.Error(), testPassword)
}

func TestConfigCheckDockerConfig(t *testing.T) {
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("hubuser:" + testPassword))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("upstreams:\n  - name: docker.io\n    url: http://127.0.0.1:1\n    docker_config: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out, errOut, err := runWithInput(t, "", "config", "check", "--config", path)
	if err != nil {
		t.Fatalf("config check: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, `docker.io: resolved, user "hubuser" (docker_config entry https://index.docker.io/v1/)`) {
		t.Errorf("output lacks the docker_config entry:\n%s", out)
	}
	requireNoSecret(t, "config check output", out+errOut, testPassword, auth)
}

// startHub starts hubsim on loopback with one account whose password is
// testPassword.
func startHub(t *testing.T) *hubsim.Hub {
	t.Helper()

	hub := hubsim.New(hubsim.Options{Accounts: map[string]hubsim.Account{testUser: {Password: testPassword}}})
	if err := hub.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	hub.SeedStandard(0)
	return hub
}

// A made-up ip-ranges.json that publishes loopback, so the test can see
// its own address looked up.
const testIPRanges = `{"syncToken":"1","createDate":"2026-12-01-00-00-00","prefixes":[
 {"ip_prefix":"127.0.0.0/8","region":"ap-northeast-1","service":"CODEBUILD","network_border_group":"ap-northeast-1"},
 {"ip_prefix":"10.0.0.0/8","region":"us-east-1","service":"EC2","network_border_group":"us-east-1"}],
 "ipv6_prefixes":[]}`

func TestRatelimitShowsBothIdentities(t *testing.T) {
	startAWS(t)
	hub := startHub(t)
	path := writeTestConfig(t, hub.URL(), "secretsmanager:docker-hub:username", "secretsmanager:docker-hub:password", "")
	ranges := filepath.Join(t.TempDir(), "ip-ranges.json")
	if err := os.WriteFile(ranges, []byte(testIPRanges), 0o600); err != nil {
		t.Fatal(err)
	}

	out, errOut, err := runWithInput(t, "", "ratelimit", "library/alpine:3.20", "--config", path, "--json", "--ip-ranges", ranges)
	if err != nil {
		t.Fatalf("ratelimit: %v\n%s%s", err, out, errOut)
	}
	var report ratelimitReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}

	if len(report.Results) != 2 {
		t.Fatalf("results = %+v, want anonymous and credentials", report.Results)
	}
	anon, account := report.Results[0], report.Results[1]
	if anon.Identity != "anonymous" || anon.SourceKind != "address" || anon.Source != "127.0.0.1" || anon.Limit != hubsim.DefaultLimit || anon.WindowSeconds != int64(hubsim.DefaultWindow.Seconds()) {
		t.Errorf("anonymous = %+v", anon)
	}
	if len(anon.Ranges) != 1 || anon.Ranges[0].Service != "CODEBUILD" || anon.Ranges[0].Addresses != "16777216" {
		t.Errorf("anonymous ranges = %+v, want the CODEBUILD 127.0.0.0/8", anon.Ranges)
	}
	if account.User != testUser || account.SourceKind != "account" || account.Source != hubsim.AccountID(testUser) || account.Limit != hubsim.DefaultAccountLimit {
		t.Errorf("credentials = %+v", account)
	}
	if len(account.Ranges) != 0 {
		t.Errorf("an account source got address ranges: %+v", account.Ranges)
	}
	if n := hub.PullsBy("127.0.0.1") + hub.PullsBy(testUser); n != 0 {
		t.Errorf("the HEAD requests counted %d pulls, want 0", n)
	}
	requireNoSecret(t, "ratelimit output", out+errOut, testPassword)

	text, _, err := runWithInput(t, "", "ratelimit", "library/alpine:3.20", "--config", path, "--ip-ranges", ranges)
	if err != nil {
		t.Fatalf("ratelimit: %v", err)
	}
	for _, want := range []string{"anonymous", "user ciuser", "(address)", "(account)", "127.0.0.1 is in 127.0.0.0/8, published for CODEBUILD in ap-northeast-1: 16777216 addresses whose tenants"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}

	anonOnly, _, err := runWithInput(t, "", "ratelimit", "library/alpine:3.20", "--config", path, "--anonymous")
	if err != nil || strings.Contains(anonOnly, "user ciuser") {
		t.Errorf("ratelimit --anonymous = %v:\n%s", err, anonOnly)
	}
}

func TestRatelimitReportsRejectedCredentials(t *testing.T) {
	hub := startHub(t)
	path := writeTestConfig(t, hub.URL(), testUser, "wrong-password", "")

	out, _, err := runWithInput(t, "", "ratelimit", "library/alpine:3.20", "--config", path)
	if err == nil {
		t.Fatalf("ratelimit succeeded with a wrong password:\n%s", out)
	}
	if !strings.Contains(out, "credentials_rejected") && !strings.Contains(out, "401") {
		t.Errorf("output does not say the credentials were refused:\n%s", out)
	}
}

func TestCredentialHelper(t *testing.T) {
	startAWS(t)
	path := writeTestConfig(t, "http://127.0.0.1:1", "secretsmanager:docker-hub:username", "secretsmanager:docker-hub:password", "")

	out, _, err := runWithInput(t, "https://index.docker.io/v1/\n", "credential-helper", "get", "--config", path)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	var creds helperCredentials
	if err := json.Unmarshal([]byte(out), &creds); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	if creds.Username != testUser || creds.Secret != testPassword || creds.ServerURL != "https://index.docker.io/v1/" {
		t.Errorf("get = %+v", creds)
	}

	out, _, err = runWithInput(t, "", "credential-helper", "list", "--config", path)
	if err != nil || strings.TrimSpace(out) != `{"https://index.docker.io/v1/":"ciuser"}` {
		t.Errorf("list = %q, %v", out, err)
	}

	_, _, err = runWithInput(t, "ghcr.io\n", "credential-helper", "get", "--config", path)
	if err == nil || err.Error() != "credentials not found in native keychain" {
		t.Errorf("get for an unconfigured registry = %v, want the protocol's not-found message", err)
	}

	_, _, err = runWithInput(t, "", "credential-helper", "store", "--config", path)
	if err == nil {
		t.Error("store succeeded on a read-only helper")
	}
}

func TestCredentialHelperName(t *testing.T) {
	for arg0, want := range map[string]bool{
		"/usr/local/bin/docker-credential-pullcache": true,
		"docker-credential-pullcache":                true,
		"pullcache":                                  false,
		"/usr/bin/docker-credential-ecr-login":       false,
	} {
		if got := isCredentialHelperName(arg0); got != want {
			t.Errorf("isCredentialHelperName(%q) = %v", arg0, got)
		}
	}
}

func TestRatelimitTarget(t *testing.T) {
	cfg := loadTestConfigText(t, `upstreams:
  - name: docker.io
    url: http://127.0.0.1:1
    default: true
  - name: ghcr.io
    url: http://127.0.0.1:2
`)
	tests := []struct {
		image, upstream       string
		wantUpstream, wantRef string
		wantRepo              string
	}{
		{"", "", "docker.io", "latest", "ratelimitpreview/test"},
		{"alpine", "", "docker.io", "latest", "library/alpine"},
		{"ghcr.io/owner/app:v1", "", "ghcr.io", "v1", "owner/app"},
		{"owner/app@sha256:" + strings.Repeat("a", 64), "ghcr.io", "ghcr.io", "sha256:" + strings.Repeat("a", 64), "owner/app"},
	}
	for _, tt := range tests {
		u, repo, ref, err := ratelimitTarget(cfg, tt.image, tt.upstream)
		if err != nil {
			t.Errorf("ratelimitTarget(%q, %q): %v", tt.image, tt.upstream, err)
			continue
		}
		if u.Name != tt.wantUpstream || repo != tt.wantRepo || ref != tt.wantRef {
			t.Errorf("ratelimitTarget(%q, %q) = %s %s %s, want %s %s %s", tt.image, tt.upstream, u.Name, repo, ref, tt.wantUpstream, tt.wantRepo, tt.wantRef)
		}
	}

	if _, _, _, err := ratelimitTarget(cfg, "quay.io/owner/app", ""); err == nil || !strings.Contains(err.Error(), "no upstream named quay.io") {
		t.Errorf("ratelimitTarget for an unconfigured registry = %v", err)
	}
}

func loadTestConfigText(t *testing.T, text string) config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// An identity token in the Docker config (an OAuth 2 refresh token) is
// exchanged for registry tokens, and the pulls count against its account.
func TestRatelimitWithIdentityToken(t *testing.T) {
	hub := startHub(t)
	refreshToken := fetchRefreshToken(t, hub.URL())

	dir := t.TempDir()
	entry := fmt.Sprintf(`{"auths":{"https://index.docker.io/v1/":{"identitytoken":%q}}}`, refreshToken)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("upstreams:\n  - name: docker.io\n    url: "+hub.URL()+"\n    docker_config: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out, errOut, err := runWithInput(t, "", "ratelimit", "library/alpine:3.20", "--config", path, "--json")
	if err != nil {
		t.Fatalf("ratelimit: %v\n%s%s", err, out, errOut)
	}
	var report ratelimitReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	if len(report.Results) != 2 || report.Results[1].Source != hubsim.AccountID(testUser) {
		t.Errorf("results = %+v, want the account as the second source", report.Results)
	}
	requireNoSecret(t, "ratelimit output", out+errOut, refreshToken)
}

// fetchRefreshToken logs in to hubsim's token service as testUser and
// requests an offline token, as an OAuth login of the Docker CLI does.
func fetchRefreshToken(t *testing.T, hubURL string) string {
	t.Helper()

	req, err := http.NewRequest(http.MethodGet, hubURL+"/token?service="+hubsim.Service+"&offline_token=true&client_id=test", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(testUser, testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.RefreshToken == "" {
		t.Fatalf("token response %d: refresh token %q, %v", resp.StatusCode, body.RefreshToken, err)
	}
	return body.RefreshToken
}

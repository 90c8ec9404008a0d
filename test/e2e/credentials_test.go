package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/awssim"
	"github.com/pullcache/pullcache/internal/hubsim"
)

const (
	// hubUser's access token is kept in the AWS stand-in the way an ECR
	// pull-through cache rule keeps it.
	hubUser         = "ciuser"
	hubToken        = "dckr_pat_e2e-valid-access-token"
	revokedHubToken = "dckr_pat_e2e-revoked-access-token"
	secretRegion    = "ap-northeast-1"
	sdkRegion       = "us-east-1"
	secretName      = "ecr-pullthroughcache/docker-hub"

	// credentialsRefresh is short so that a rotation shows within the
	// test; refreshWait lets at least two refreshes run.
	credentialsRefresh = "1s"
	refreshWait        = 2500 * time.Millisecond
)

// credentialsSetup is hubsim with one account, the AWS stand-in holding
// that account's secret, and the environment pullcache runs with.
type credentialsSetup struct {
	hub    *hubsim.Hub
	aws    *awssim.Server
	arn    string
	env    []string
	dir    string
	config string // configuration file
}

// newCredentialsSetup starts the servers. With tokenOnOwnHost the token
// service runs on 127.0.0.3, as Docker Hub's runs on a host of its own.
// Without it the token service runs on the registry's listener, because
// crane rejects a token realm on another private address.
func newCredentialsSetup(t *testing.T, tokenOnOwnHost bool) *credentialsSetup {
	t.Helper()
	s := &credentialsSetup{dir: t.TempDir()}

	log := &lineLog{}
	opts := hubsim.Options{
		Accounts: map[string]hubsim.Account{hubUser: {Password: hubToken}},
		Logf:     log.printf,
	}
	if tokenOnOwnHost {
		opts.TokenAddr, opts.CDNAddr = "127.0.0.3:0", "127.0.0.2:0"
	}
	s.hub = hubsim.New(opts)
	if err := s.hub.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start hubsim: %v", err)
	}
	t.Cleanup(func() {
		s.hub.Close()
		if t.Failed() {
			t.Logf("hubsim requests:\n%s", tail(log.String(), maxLogDump))
		}
	})
	s.hub.SeedStandard(0)

	sim := awssim.StartTest(t)
	s.aws = sim
	s.putToken(hubToken)

	s.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir}
	for name, value := range sim.Environ(s.dir, sdkRegion) {
		s.env = append(s.env, name+"="+value)
	}
	return s
}

// putToken stores a new version of the secret, as a rotation does.
func (s *credentialsSetup) putToken(token string) {
	_, s.arn = s.aws.PutSecret(secretRegion, secretName, fmt.Sprintf(`{"username":%q,"accessToken":%q}`, hubUser, token))
}

// writeConfig writes a configuration whose docker.io upstream (and a
// second upstream named by the hub's own host, for direct pulls) take
// their credentials from the secret by its full ARN.
func (s *credentialsSetup) writeConfig(t *testing.T, addr, adminAddr, dataDir string) {
	t.Helper()
	hubHost := strings.TrimPrefix(s.hub.URL(), "http://")
	upstream := func(name string, isDefault bool) string {
		return fmt.Sprintf(`  - name: %s
    url: %s
    default: %v
    username: secretsmanager:%s:username
    password: secretsmanager:%s:accessToken
`, name, s.hub.URL(), isDefault, s.arn, s.arn)
	}
	s.config = filepath.Join(s.dir, "config.yaml")
	writeFile(t, s.config, fmt.Sprintf("listen: %s\nadmin_listen: %s\nstorage:\n  filesystem:\n    root: %s\ncredentials_refresh: %s\nupstreams:\n%s%s",
		addr, adminAddr, dataDir, credentialsRefresh, upstream("docker.io", true), upstream(hubHost, false)))
}

// startMirror starts pullcache serve with the setup's environment and
// returns the mirror and its log path.
func (s *credentialsSetup) startMirror(t *testing.T) (*mirror, string) {
	t.Helper()
	addr, adminAddr, err := freeAddrs()
	if err != nil {
		t.Fatal(err)
	}
	m := &mirror{t: t, hubURL: s.hub.URL(), dataDir: t.TempDir(), logDir: s.dir, addr: addr, adminAddr: adminAddr, starts: 1}
	s.writeConfig(t, addr, adminAddr, m.dataDir)

	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			m.dumpLogs()
		}
	})
	cmd := exec.Command(pullcacheBinary, "serve", "--config", s.config)
	cmd.Dir, cmd.Env = s.dir, s.env
	if err := m.launch(cmd, addr, adminAddr); err != nil {
		t.Fatal(err)
	}
	return m, filepath.Join(s.dir, "pullcache-1.log")
}

// run runs the pullcache binary (or argv0, a link to it) with stdin and
// returns stdout and stderr together with the error.
func (s *credentialsSetup) run(t *testing.T, stdin, argv0 string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()

	if argv0 == "" {
		argv0 = pullcacheBinary
	}
	cmd := exec.CommandContext(ctx, argv0, args...)
	cmd.Dir, cmd.Env = s.dir, append(s.env, "PULLCACHE_CONFIG="+s.config)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func requirePulls(t *testing.T, hub *hubsim.Hub, account, address int) {
	t.Helper()
	if got := hub.PullsBy(hubUser); got != account {
		t.Errorf("pulls charged to the account = %d, want %d", got, account)
	}
	if got := hub.PullsBy("127.0.0.1"); got != address {
		t.Errorf("pulls charged to the address 127.0.0.1 = %d, want %d", got, address)
	}
}

func requireManifest(t *testing.T, m *mirror, repo, ref string) {
	t.Helper()
	if resp := m.getManifest(t, repo, ref); resp.status != http.StatusOK {
		t.Fatalf("GET %s:%s = %d %s", repo, ref, resp.status, resp.body)
	}
}

// A mirror whose Docker Hub credentials live in Secrets Manager charges
// its pulls to the account. When the secret turns bad, pulls go on
// anonymously with one logged error, and a rotation back is picked up
// without a restart. No secret value reaches any output.
func TestCredentialsFromSecretsManager(t *testing.T) {
	s := newCredentialsSetup(t, true)
	m, logPath := s.startMirror(t)
	var outputs []string

	requireManifest(t, m, hubsim.AlpineRepo, "3.20")
	requirePulls(t, s.hub, 1, 0)

	// ratelimit sends HEAD requests, one per identity.
	out, errOut, err := s.run(t, "", "", "ratelimit", "library/alpine:3.20", "--config", s.config, "--json")
	outputs = append(outputs, out, errOut)
	if err != nil {
		t.Fatalf("ratelimit: %v\n%s%s", err, out, errOut)
	}
	var results struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatalf("decode ratelimit output %q: %v", out, err)
	}
	if len(results.Results) != 2 {
		t.Fatalf("ratelimit results = %v, want anonymous and the account", results.Results)
	}
	anon, account := results.Results[0], results.Results[1]
	if anon["source"] != "127.0.0.1" || anon["source_kind"] != "address" || anon["remaining"] != float64(hubsim.DefaultLimit) {
		t.Errorf("anonymous result = %v", anon)
	}
	if account["user"] != hubUser || account["source"] != hubsim.AccountID(hubUser) || account["source_kind"] != "account" ||
		account["remaining"] != float64(hubsim.DefaultAccountLimit-1) {
		t.Errorf("account result = %v, want the account's id with one pull spent", account)
	}
	requirePulls(t, s.hub, 1, 0)

	out, errOut, err = s.run(t, "", "", "config", "check", "--config", s.config)
	outputs = append(outputs, out, errOut)
	if err != nil || !strings.Contains(out, `docker.io: resolved, user "ciuser"`) {
		t.Errorf("config check = %v:\n%s%s", err, out, errOut)
	}

	// The secret is rotated to a token Docker Hub refuses.
	s.putToken(revokedHubToken)
	time.Sleep(refreshWait)
	requireManifest(t, m, hubsim.MovingRepo, "v1")
	requirePulls(t, s.hub, 1, 1)

	// And back to a good one: the refresh picks it up.
	s.putToken(hubToken)
	time.Sleep(refreshWait)
	requireManifest(t, m, hubsim.BigRepo, "latest")
	requirePulls(t, s.hub, 2, 1)

	// The metrics count the rejection and hold no secret.
	metricsText := getText(t, "http://"+m.adminAddr+"/metrics")
	outputs = append(outputs, metricsText)
	if want := `pullcache_upstream_credentials_rejected_total{upstream="docker.io"} 1`; !strings.Contains(metricsText, want+"\n") {
		t.Errorf("/metrics lacks %s", want)
	}

	m.stop()
	logs, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	logText := string(logs)
	if n := strings.Count(logText, "upstream rejected the configured credentials"); n != 1 {
		t.Errorf("rejection logged %d times, want once:\n%s", n, logText)
	}
	if !strings.Contains(logText, "user="+hubUser) {
		t.Errorf("the rejection log does not name the user:\n%s", logText)
	}

	outputs = append(outputs, logText)
	for _, text := range outputs {
		for _, secretValue := range []string{hubToken, revokedHubToken, awssim.SecretAccessKey} {
			if strings.Contains(text, secretValue) {
				t.Errorf("a secret value appears in the output:\n%s", text)
			}
		}
	}
}

// Installed as docker-credential-pullcache, the binary gives crane the
// account's credentials from Secrets Manager for a direct pull.
func TestCredentialHelperForDirectPulls(t *testing.T) {
	requireTool(t, "crane")
	s := newCredentialsSetup(t, false)
	addr, adminAddr, err := freeAddrs()
	if err != nil {
		t.Fatal(err)
	}
	s.writeConfig(t, addr, adminAddr, t.TempDir())

	bin := t.TempDir()
	helper := filepath.Join(bin, "docker-credential-pullcache")
	if err := os.Symlink(pullcacheBinary, helper); err != nil {
		t.Fatal(err)
	}
	out, _, err := s.run(t, "https://index.docker.io/v1/", helper, "get")
	if err != nil || !strings.Contains(out, `"Username":"ciuser"`) {
		t.Fatalf("helper get = %v: %s", err, out)
	}

	hubHost := strings.TrimPrefix(s.hub.URL(), "http://")
	dockerDir := filepath.Join(s.dir, "docker")
	if err := os.MkdirAll(dockerDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dockerDir, "config.json"), fmt.Sprintf(`{"credHelpers": {%q: "pullcache"}}`, hubHost))

	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "crane", "manifest", hubHost+"/library/alpine:3.20")
	cmd.Dir = s.dir
	cmd.Env = append(s.env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "DOCKER_CONFIG="+dockerDir, "PULLCACHE_CONFIG="+s.config)
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("crane manifest: %v\n%s", err, output)
	}
	requirePulls(t, s.hub, 1, 0)
	if strings.Contains(string(output), hubToken) {
		t.Errorf("crane output reveals the token:\n%s", output)
	}
}

// getText returns the body of a GET of url, failing the test unless the
// status is 200.
func getText(t *testing.T, url string) string {
	t.Helper()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", url, resp.StatusCode, err)
	}
	return string(body)
}

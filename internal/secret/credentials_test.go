package secret

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/awssim"
	"github.com/pullcache/pullcache/internal/testclock"
	"github.com/pullcache/pullcache/internal/testlog"
)

func newTestLogger() (*slog.Logger, *testlog.Buffer) {
	buf := &testlog.Buffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// eventually polls cond for up to five seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func requirePair(t *testing.T, c *Credentials, user, pass string) {
	t.Helper()

	gotUser, gotPass, err := c.Get(context.Background())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if gotUser != user || gotPass != pass {
		t.Errorf("Get = %q, %q; want %q, %q", gotUser, gotPass, user, pass)
	}
}

// loadFromHubSecret stores hubUser and password as the docker-hub secret
// in sim and returns docker.io credentials that have loaded both from it.
// log may be nil.
func loadFromHubSecret(t *testing.T, sim *awssim.Server, password string, log *slog.Logger) *Credentials {
	t.Helper()

	sim.PutSecret(simRegion, "docker-hub", `{"username":"`+hubUser+`","password":"`+password+`"}`)
	c := NewCredentials(CredentialsOptions{
		Upstream: "docker.io",
		Username: "secretsmanager:docker-hub:username",
		Password: "secretsmanager:docker-hub:password",
		Logger:   log,
	})
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCredentialsLoadErrorNamesUpstreamAndReference(t *testing.T) {
	sim := startAWS(t)
	sim.PutSecret(simRegion, "docker-hub", `{"username":"`+hubUser+`","password":"`+hubPassword+`"}`)
	c := NewCredentials(CredentialsOptions{
		Upstream: "docker.io",
		Username: "secretsmanager:docker-hub:username",
		Password: "secretsmanager:docker-hub:token",
	})

	err := c.Load(context.Background())
	if err == nil {
		t.Fatal("Load succeeded with a missing key")
	}
	for _, want := range []string{"upstream docker.io", "password", `"secretsmanager:docker-hub:token"`, `no key "token"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), hubPassword) {
		t.Errorf("error reveals the password: %v", err)
	}
}

func TestCredentialsAnonymous(t *testing.T) {
	c := NewCredentials(CredentialsOptions{Upstream: "docker.io"})
	if c.Configured() {
		t.Error("Configured = true without credentials")
	}
	requirePair(t, c, "", "")
	c.Rejected("", "")
	requirePair(t, c, "", "")
}

// Run picks up a rotated secret without a restart.
func TestCredentialsRefreshPicksUpRotation(t *testing.T) {
	sim := startAWS(t)
	c := loadFromHubSecret(t, sim, "before-rotation", nil)
	requirePair(t, c, hubUser, "before-rotation")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx, 10*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	sim.PutSecret(simRegion, "docker-hub", `{"username":"`+hubUser+`","password":"after-rotation"}`)
	eventually(t, "the rotated password", func() bool {
		_, pass, _ := c.Get(context.Background())
		return pass == "after-rotation"
	})
}

// A refresh that fails keeps the last good pair and logs an error that
// names the reference but not the value.
func TestCredentialsFailedRefreshKeepsLastGood(t *testing.T) {
	sim := startAWS(t)
	log, logs := newTestLogger()
	c := loadFromHubSecret(t, sim, hubPassword, log)

	sim.Deny("docker-hub")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx, 10*time.Millisecond); close(done) }()

	eventually(t, "a logged refresh failure", func() bool { return strings.Contains(logs.String(), "refresh credentials") })
	cancel()
	<-done

	requirePair(t, c, hubUser, hubPassword)
	out := logs.String()
	for _, want := range []string{"level=ERROR", "upstream=docker.io", "secretsmanager:docker-hub:username", "AccessDeniedException"} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not contain %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, hubPassword) {
		t.Errorf("log reveals the password:\n%s", out)
	}
}

func TestCredentialsRejectedLogsOncePerMinute(t *testing.T) {
	dir := t.TempDir()
	passFile := filepath.Join(dir, "password")
	if err := os.WriteFile(passFile, []byte(hubPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	log, logs := newTestLogger()
	var mu sync.Mutex
	var events []string
	c := NewCredentials(CredentialsOptions{
		Upstream: "docker.io",
		Username: hubUser,
		Password: "file:" + passFile,
		Logger:   log,
		Clock:    clock.Now,
		OnRejected: func(upstream string) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, upstream)
		},
	})
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}

	c.Rejected(hubUser, "some-older-password") // not the current pair: ignored
	requirePair(t, c, hubUser, hubPassword)

	c.Rejected(hubUser, hubPassword)
	requirePair(t, c, "", "")
	c.Rejected(hubUser, hubPassword) // already anonymous: no second event

	// The refresh lifts the rejection; a new rejection within the minute
	// counts but does not log.
	waitReload(t, c)
	clock.Advance(30 * time.Second)
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	requirePair(t, c, hubUser, hubPassword)
	c.Rejected(hubUser, hubPassword)
	waitReload(t, c)

	clock.Advance(31 * time.Second)
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Rejected(hubUser, hubPassword)
	waitReload(t, c)

	mu.Lock()
	if len(events) != 3 {
		t.Errorf("rejection events = %q, want 3", events)
	}
	mu.Unlock()

	out := logs.String()
	if n := strings.Count(out, "upstream rejected the configured credentials"); n != 2 {
		t.Errorf("rejection logged %d times, want 2 (once a minute):\n%s", n, out)
	}
	if !strings.Contains(out, "user="+hubUser) || !strings.Contains(out, "upstream=docker.io") {
		t.Errorf("rejection log lacks the upstream or user:\n%s", out)
	}
	if strings.Contains(out, hubPassword) {
		t.Errorf("log reveals the password:\n%s", out)
	}
}

// waitReload waits for the re-resolution that a rejection starts.
func waitReload(t *testing.T, c *Credentials) {
	t.Helper()
	eventually(t, "the re-resolution to end", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.reloading
	})
}

// A rejection re-reads the secret at once, and a rotated value is used
// without waiting for the interval.
func TestCredentialsRejectedPicksUpRotatedSecret(t *testing.T) {
	sim := startAWS(t)
	c := loadFromHubSecret(t, sim, "revoked-password", nil)

	sim.PutSecret(simRegion, "docker-hub", `{"username":"`+hubUser+`","password":"`+hubPassword+`"}`)
	c.Rejected(hubUser, "revoked-password")

	// Rejected returns after the re-read, so the request that met the
	// rejection retries with the rotated password, not anonymously.
	requirePair(t, c, hubUser, hubPassword)
}

func TestCredentialsSource(t *testing.T) {
	c := NewCredentials(CredentialsOptions{Upstream: "docker.io", Username: "ci", Password: "literal-password"})
	if got := c.Source(); got != "username (literal), password (literal)" {
		t.Errorf("Source = %q", got)
	}
	c = NewCredentials(CredentialsOptions{Upstream: "docker.io", Username: "env:USER_VAR", Password: "ssm:/ci/token"})
	if got := c.Source(); got != "username env:USER_VAR, password ssm:/ci/token" {
		t.Errorf("Source = %q", got)
	}
}

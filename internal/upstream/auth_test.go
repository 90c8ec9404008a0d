package upstream

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTokenFlow(t *testing.T) {
	tests := []struct {
		name     string
		user     string
		pass     string
		wantUser string
	}{
		{name: "anonymous"},
		{name: "basic credentials", user: "ci", pass: "s3cret", wantUser: "ci"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRegistry(t, "bearer")
			if tt.user != "" {
				f.users = map[string]string{tt.user: tt.pass}
			}
			f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
			reg := newTestRegistry(t, f.URL(), withCredentials(tt.user, tt.pass))

			m, err := reg.GetManifest(context.Background(), "library/alpine", "3.20")
			if err != nil {
				t.Fatalf("GetManifest: %v", err)
			}
			if string(m.Body) != string(testManifestBody) {
				t.Errorf("body = %q", m.Body)
			}

			got := f.tokenRequests()
			if len(got) != 1 {
				t.Fatalf("token requests = %d, want 1", len(got))
			}
			if got[0].scope != "repository:library/alpine:pull" {
				t.Errorf("scope = %q", got[0].scope)
			}
			if got[0].service != "fake-registry" {
				t.Errorf("service = %q", got[0].service)
			}
			if got[0].user != tt.wantUser {
				t.Errorf("token request user = %q, want %q", got[0].user, tt.wantUser)
			}

			reqs := f.registryRequests()
			if len(reqs) != 1 {
				t.Fatalf("registry requests = %d, want 1 (the ping learns the challenge)", len(reqs))
			}
			if auth := reqs[0].Header.Get("Authorization"); auth != "Bearer token-1" {
				t.Errorf("Authorization = %q, want Bearer token-1", auth)
			}
		})
	}
}

func TestTokenReuseUntilExpiry(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn int
		reuseAt   time.Duration // still valid
		expiredAt time.Duration // must be refetched
	}{
		{name: "expires_in 300", expiresIn: 300, reuseAt: 200 * time.Second, expiredAt: 301 * time.Second},
		{name: "default 60s", expiresIn: 0, reuseAt: 30 * time.Second, expiredAt: 61 * time.Second},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRegistry(t, "bearer")
			f.expiresIn = tt.expiresIn
			d := f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
			clock := newFakeClock()
			reg := newTestRegistry(t, f.URL(), func(o *Options) { o.Clock = clock.Now })
			ctx := context.Background()

			for range 3 {
				if _, err := reg.HeadManifest(ctx, "library/alpine", "3.20"); err != nil {
					t.Fatalf("HeadManifest: %v", err)
				}
			}
			if n := f.tokens(); n != 1 {
				t.Fatalf("tokens after 3 requests = %d, want 1", n)
			}

			clock.Advance(tt.reuseAt)
			if _, err := reg.GetManifest(ctx, "library/alpine", d.String()); err != nil {
				t.Fatalf("GetManifest: %v", err)
			}
			if n := f.tokens(); n != 1 {
				t.Fatalf("tokens before expiry = %d, want 1", n)
			}

			clock.Advance(tt.expiredAt - tt.reuseAt)
			if _, err := reg.HeadManifest(ctx, "library/alpine", "3.20"); err != nil {
				t.Fatalf("HeadManifest after expiry: %v", err)
			}
			if n := f.tokens(); n != 2 {
				t.Fatalf("tokens after expiry = %d, want 2", n)
			}
		})
	}
}

func TestTokenRefreshOn401(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	f.expiresIn = 3600
	f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
	reg := newTestRegistry(t, f.URL())
	ctx := context.Background()

	if _, err := reg.HeadManifest(ctx, "library/alpine", "3.20"); err != nil {
		t.Fatalf("first HeadManifest: %v", err)
	}

	f.revokeTokens()

	if _, err := reg.HeadManifest(ctx, "library/alpine", "3.20"); err != nil {
		t.Fatalf("HeadManifest after revocation: %v", err)
	}
	if n := f.tokens(); n != 2 {
		t.Errorf("tokens = %d, want 2", n)
	}
	if n := len(f.registryRequests()); n != 3 {
		t.Errorf("registry requests = %d, want 3 (ok, 401, retry)", n)
	}
}

func TestTokenPerScope(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	f.expiresIn = 3600
	repos := []string{"library/alpine", "myorg/app"}
	for _, repo := range repos {
		f.addManifest(repo, "latest", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
	}
	reg := newTestRegistry(t, f.URL())
	ctx := context.Background()

	for range 2 {
		for _, repo := range repos {
			if _, err := reg.HeadManifest(ctx, repo, "latest"); err != nil {
				t.Fatalf("HeadManifest %s: %v", repo, err)
			}
		}
	}

	got := f.tokenRequests()
	if len(got) != 2 {
		t.Fatalf("token requests = %d, want 2", len(got))
	}
	for i, repo := range repos {
		if want := pullScope(repo); got[i].scope != want {
			t.Errorf("token request %d scope = %q, want %q", i, got[i].scope, want)
		}
	}
}

func TestTokenConcurrentRequestsShareOneFetch(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
	reg := newTestRegistry(t, f.URL())

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := reg.HeadManifest(context.Background(), "library/alpine", "3.20")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)

	for err := range errs {
		if err != nil {
			t.Fatalf("HeadManifest: %v", err)
		}
	}
	if n := f.tokens(); n != 1 {
		t.Errorf("tokens = %d, want 1", n)
	}
}

func TestAuthFailureClassification(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(f *fakeRegistry)
		user, pass string
		repo       string
		want       Kind
		wantStatus int
		wantTokens int
	}{
		{
			name:       "token service rejects credentials",
			setup:      func(f *fakeRegistry) { f.users = map[string]string{"ci": "right"} },
			user:       "ci",
			pass:       "wrong",
			want:       KindCredentialsRejected,
			wantStatus: http.StatusUnauthorized,
		},
		{
			name:       "token service refuses anonymous",
			setup:      func(f *fakeRegistry) { f.users = map[string]string{"ci": "right"} },
			want:       KindDenied,
			wantStatus: http.StatusUnauthorized,
		},
		{
			name: "token service 5xx",
			setup: func(f *fakeRegistry) {
				f.tokenHandler = func(w http.ResponseWriter, _ *http.Request) bool {
					http.Error(w, "backend down", http.StatusBadGateway)
					return true
				}
			},
			want:       KindUnavailable,
			wantStatus: http.StatusBadGateway,
		},
		{
			name:  "token service unreachable",
			setup: func(f *fakeRegistry) { f.tokenSrv.Close() },
			want:  KindUnavailable,
		},
		{
			name:       "repository denied after token granted",
			setup:      func(f *fakeRegistry) { f.deny["library/nosuch"] = true },
			repo:       "library/nosuch",
			want:       KindDenied,
			wantStatus: http.StatusUnauthorized,
			wantTokens: 1,
		},
		{
			name: "registry 403",
			setup: func(f *fakeRegistry) {
				f.handler = func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path == "/v2/" {
						return false
					}
					writeOCIError(w, http.StatusForbidden, "DENIED", "requested access to the resource is denied")
					return true
				}
			},
			want:       KindDenied,
			wantStatus: http.StatusForbidden,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRegistry(t, "bearer")
			tt.setup(f)
			repo := tt.repo
			if repo == "" {
				repo = "library/alpine"
			}
			f.addManifest(repo, "latest", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
			reg := newTestRegistry(t, f.URL(), withCredentials(tt.user, tt.pass))

			_, err := reg.GetManifest(context.Background(), repo, "latest")

			e := requireKind(t, err, tt.want)
			if e.Status != tt.wantStatus {
				t.Errorf("status = %d, want %d", e.Status, tt.wantStatus)
			}
			if e.Upstream != "test" {
				t.Errorf("upstream = %q, want test", e.Upstream)
			}
			if tt.wantTokens > 0 && f.tokens() != tt.wantTokens {
				t.Errorf("tokens = %d, want %d", f.tokens(), tt.wantTokens)
			}
		})
	}
}

func TestBasicAuthRegistry(t *testing.T) {
	tests := []struct {
		name       string
		user, pass string
		want       Kind // KindUnknown means success
	}{
		{name: "valid credentials", user: "ci", pass: "right"},
		{name: "wrong password", user: "ci", pass: "wrong", want: KindCredentialsRejected},
		{name: "anonymous", want: KindDenied},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRegistry(t, "basic")
			f.users = map[string]string{"ci": "right"}
			f.addManifest("team/app", "v1", fakeManifest{mediaType: MediaTypeDockerManifest, body: testManifestBody})
			reg := newTestRegistry(t, f.URL(), withCredentials(tt.user, tt.pass))

			_, err := reg.GetManifest(context.Background(), "team/app", "v1")

			if tt.want == KindUnknown {
				if err != nil {
					t.Fatalf("GetManifest: %v", err)
				}
				return
			}
			requireKind(t, err, tt.want)
		})
	}
}

func TestBasicAuthCredentialsRotation(t *testing.T) {
	f := newFakeRegistry(t, "basic")
	f.users = map[string]string{"ci": "new"}
	f.addManifest("team/app", "v1", fakeManifest{mediaType: MediaTypeDockerManifest, body: testManifestBody})

	var mu sync.Mutex
	pass := "old"
	reg := newTestRegistry(t, f.URL(), func(o *Options) {
		o.Credentials = func(context.Context) (string, string, error) {
			mu.Lock()
			defer mu.Unlock()
			return "ci", pass, nil
		}
	})

	_, err := reg.HeadManifest(context.Background(), "team/app", "v1")
	requireKind(t, err, KindCredentialsRejected)

	mu.Lock()
	pass = "new"
	mu.Unlock()

	if _, err := reg.HeadManifest(context.Background(), "team/app", "v1"); err != nil {
		t.Fatalf("HeadManifest after rotation: %v", err)
	}
}

func TestChallengeParsing(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   []authChallenge
	}{
		{
			name:   "docker hub",
			header: `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push"`,
			want: []authChallenge{{scheme: "bearer", params: map[string]string{
				"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/alpine:pull,push",
			}}},
		},
		{
			name:   "basic and bearer",
			header: `Basic realm="x", Bearer realm="https://a/token"`,
			want: []authChallenge{
				{scheme: "basic", params: map[string]string{"realm": "x"}},
				{scheme: "bearer", params: map[string]string{"realm": "https://a/token"}},
			},
		},
		{
			name:   "escaped quote and token value",
			header: `bearer realm="a\"b", service=svc`,
			want:   []authChallenge{{scheme: "bearer", params: map[string]string{"realm": `a"b`, "service": "svc"}}},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseWWWAuthenticate(tt.header)
			if len(got) != len(tt.want) {
				t.Fatalf("challenges = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i].scheme != tt.want[i].scheme {
					t.Errorf("challenge %d scheme = %q, want %q", i, got[i].scheme, tt.want[i].scheme)
				}
				for k, v := range tt.want[i].params {
					if got[i].params[k] != v {
						t.Errorf("challenge %d %s = %q, want %q", i, k, got[i].params[k], v)
					}
				}
			}
		})
	}
}

func TestCredentialsErrorIsUnavailable(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	reg := newTestRegistry(t, f.URL(), func(o *Options) {
		o.Credentials = func(context.Context) (string, string, error) {
			return "", "", errTestSecretStore
		}
	})

	_, err := reg.HeadManifest(context.Background(), "library/alpine", "3.20")

	e := requireKind(t, err, KindUnavailable)
	if !strings.Contains(e.Error(), "resolve credentials") {
		t.Errorf("error = %v, want it to name credential resolution", e)
	}
}

func TestChallengeOnRepositoryAfterOpenPing(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return true
		}
		return false
	}
	f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
	reg := newTestRegistry(t, f.URL())

	if _, err := reg.GetManifest(context.Background(), "library/alpine", "3.20"); err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	if n := f.tokens(); n != 1 {
		t.Errorf("tokens = %d, want 1", n)
	}
}

func TestRealmRejectedForRemoteRegistry(t *testing.T) {
	tests := []struct {
		name  string
		realm string
	}{
		{name: "http realm for https registry", realm: "http://auth.example.com/token"},
		{name: "loopback realm", realm: "https://127.0.0.1/token"},
		{name: "localhost realm", realm: "https://localhost:8443/token"},
		{name: "link-local realm", realm: "https://169.254.1.1/token"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := New(Options{Name: "test", URL: "https://registry.example.com"})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			h := http.Header{"Www-Authenticate": {`Bearer realm="` + tt.realm + `",service="x"`}}

			_, _, err = reg.parseChallenge(h)

			requireKind(t, err, KindInvalid)
		})
	}
}

func TestPrivateRealmAllowed(t *testing.T) {
	reg, err := New(Options{Name: "test", URL: "https://registry.internal.example"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := http.Header{"Www-Authenticate": {`Bearer realm="https://10.20.30.40/token",service="internal"`}}

	ch, ok, err := reg.parseChallenge(h)

	if err != nil || !ok {
		t.Fatalf("parseChallenge = %v, %v", ok, err)
	}
	if ch.realm.Host != "10.20.30.40" || ch.service != "internal" {
		t.Errorf("challenge = %+v", ch)
	}
}

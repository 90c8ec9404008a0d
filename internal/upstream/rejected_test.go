package upstream

import (
	"context"
	"net/http"
	"sync"
	"testing"
)

// switchingCredentials returns its pair until CredentialsRejected is
// called, then next, as a provider does that falls back to anonymous or
// reads a rotated secret again.
type switchingCredentials struct {
	mu         sync.Mutex
	user, pass string
	next       [2]string
	rejected   [][2]string
}

func (c *switchingCredentials) get(context.Context) (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.user, c.pass, nil
}

func (c *switchingCredentials) reject(user, pass string) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.rejected = append(c.rejected, [2]string{user, pass})
	c.user, c.pass = c.next[0], c.next[1]
}

func (c *switchingCredentials) rejections() [][2]string {
	c.mu.Lock()
	defer c.mu.Unlock()

	return append([][2]string(nil), c.rejected...)
}

func (c *switchingCredentials) options(o *Options) {
	o.Credentials = c.get
	o.CredentialsRejected = c.reject
}

// The token service refuses the configured pair but serves anonymous
// tokens, as Docker Hub does: the pull goes on anonymously.
func TestTokenRejectionFallsBackToAnonymous(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	f.tokenHandler = func(w http.ResponseWriter, r *http.Request) bool {
		if user, _, ok := r.BasicAuth(); ok && user == "ci" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"details":"incorrect username or password"}`))
			return true
		}
		return false
	}
	f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
	creds := &switchingCredentials{user: "ci", pass: "revoked"}
	reg := newTestRegistry(t, f.URL(), creds.options)

	if _, err := reg.GetManifest(context.Background(), "library/alpine", "3.20"); err != nil {
		t.Fatalf("GetManifest: %v", err)
	}

	got := creds.rejections()
	if len(got) != 1 || got[0] != [2]string{"ci", "revoked"} {
		t.Errorf("rejections = %q, want the configured pair once", got)
	}
	tokens := f.tokenRequests()
	if len(tokens) != 1 || tokens[0].user != "" {
		t.Errorf("token requests that got a token = %+v, want one anonymous", tokens)
	}
}

// After a rejection the provider offers a rotated password, which the
// retry uses.
func TestTokenRejectionRetriesWithRotatedSecret(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	f.users = map[string]string{"ci": "rotated"}
	f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
	creds := &switchingCredentials{user: "ci", pass: "old", next: [2]string{"ci", "rotated"}}
	reg := newTestRegistry(t, f.URL(), creds.options)

	if _, err := reg.GetManifest(context.Background(), "library/alpine", "3.20"); err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	if n := len(creds.rejections()); n != 1 {
		t.Errorf("rejections = %d, want 1", n)
	}
}

// A provider that has nothing else to offer leaves the rejection as the
// result, without a second token request.
func TestTokenRejectionWithoutAlternative(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	f.users = map[string]string{"ci": "right"}
	creds := &switchingCredentials{user: "ci", pass: "wrong", next: [2]string{"ci", "wrong"}}
	reg := newTestRegistry(t, f.URL(), creds.options)

	_, err := reg.GetManifest(context.Background(), "library/alpine", "3.20")
	requireKind(t, err, KindCredentialsRejected)
	if n := len(f.tokenRequests()); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

// A repository the valid token does not cover is "denied or missing", not
// a rejection of the credentials.
func TestRepositoryDenialIsNoRejection(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	f.users = map[string]string{"ci": "right"}
	f.deny["team/secret"] = true
	creds := &switchingCredentials{user: "ci", pass: "right"}
	reg := newTestRegistry(t, f.URL(), creds.options)

	_, err := reg.GetManifest(context.Background(), "team/secret", "v1")
	requireKind(t, err, KindDenied)
	if got := creds.rejections(); len(got) != 0 {
		t.Errorf("rejections = %q, want none", got)
	}
}

func TestBasicRejectionRetriesWithNextCredentials(t *testing.T) {
	f := newFakeRegistry(t, "basic")
	f.users = map[string]string{"ci": "rotated"}
	f.addManifest("team/app", "v1", fakeManifest{mediaType: MediaTypeDockerManifest, body: testManifestBody})
	creds := &switchingCredentials{user: "ci", pass: "old", next: [2]string{"ci", "rotated"}}
	reg := newTestRegistry(t, f.URL(), creds.options)

	if _, err := reg.GetManifest(context.Background(), "team/app", "v1"); err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	got := creds.rejections()
	if len(got) != 1 || got[0] != [2]string{"ci", "old"} {
		t.Errorf("rejections = %q, want the old pair once", got)
	}
}

// An anonymous token taken after a rejection is not reused once the
// provider offers credentials again.
func TestTokenNotReusedAcrossUsers(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	f.expiresIn = 300
	f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
	creds := &switchingCredentials{}
	reg := newTestRegistry(t, f.URL(), creds.options)

	for range 2 {
		if _, err := reg.HeadManifest(context.Background(), "library/alpine", "3.20"); err != nil {
			t.Fatal(err)
		}
	}
	creds.mu.Lock()
	creds.user, creds.pass = "ci", "rotated"
	creds.mu.Unlock()
	if _, err := reg.HeadManifest(context.Background(), "library/alpine", "3.20"); err != nil {
		t.Fatal(err)
	}

	tokens := f.tokenRequests()
	if len(tokens) != 2 || tokens[0].user != "" || tokens[1].user != "ci" {
		t.Errorf("token requests = %+v, want one anonymous, then one as ci", tokens)
	}
}

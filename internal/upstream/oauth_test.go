package upstream

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

// oauthTokenHandler serves the refresh_token grant for one identity token,
// recording each form it receives.
func oauthTokenHandler(f *fakeRegistry, valid string, forms *[]map[string]string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost {
			return false
		}
		if err := r.ParseForm(); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return true
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		*forms = append(*forms, map[string]string{
			"grant_type": r.PostForm.Get("grant_type"), "refresh_token": r.PostForm.Get("refresh_token"),
			"scope": r.PostForm.Get("scope"), "service": r.PostForm.Get("service"), "content_type": r.Header.Get("Content-Type"),
		})
		if r.PostForm.Get("refresh_token") != valid {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"details":"invalid refresh token"}`))
			return true
		}
		f.issued["oauth-token"] = r.PostForm.Get("scope")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "oauth-token", "expires_in": 300})
		return true
	}
}

func TestIdentityTokenUsesRefreshGrant(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	var forms []map[string]string
	f.tokenHandler = oauthTokenHandler(f, "refresh-abc", &forms)
	f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
	reg := newTestRegistry(t, f.URL(), withCredentials(IdentityTokenUser, "refresh-abc"))

	for range 2 {
		if _, err := reg.GetManifest(context.Background(), "library/alpine", "3.20"); err != nil {
			t.Fatalf("GetManifest: %v", err)
		}
	}

	if len(forms) != 1 {
		t.Fatalf("token POSTs = %d, want 1 (the token is cached)", len(forms))
	}
	want := map[string]string{
		"grant_type": "refresh_token", "refresh_token": "refresh-abc", "scope": "repository:library/alpine:pull",
		"service": "fake-registry", "content_type": "application/x-www-form-urlencoded",
	}
	for k, v := range want {
		if forms[0][k] != v {
			t.Errorf("form %s = %q, want %q", k, forms[0][k], v)
		}
	}
	if n := len(f.tokenRequests()); n != 0 {
		t.Errorf("GET token requests = %d, want 0", n)
	}
}

func TestIdentityTokenRejected(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	var forms []map[string]string
	f.tokenHandler = oauthTokenHandler(f, "refresh-abc", &forms)
	reg := newTestRegistry(t, f.URL(), withCredentials(IdentityTokenUser, "revoked"))

	_, err := reg.GetManifest(context.Background(), "library/alpine", "3.20")
	requireKind(t, err, KindCredentialsRejected)
}

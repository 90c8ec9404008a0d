package upstream

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestLogsHoldNoSecrets(t *testing.T) {
	blob := []byte("layer")
	d := digest.FromBytes(blob)
	cdnURL := closedURL(t) // the redirect target fails, so its URL lands in an error

	f := newFakeRegistry(t, "bearer")
	f.users = map[string]string{"ci": "hunter2"}
	f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/blobs/") || r.Header.Get("Authorization") == "" {
			return false
		}
		w.Header().Set("Location", cdnURL+"/blobs/x?sig=topsecret")
		w.WriteHeader(http.StatusTemporaryRedirect)
		return true
	}

	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := newTestRegistry(t, f.URL(), withCredentials("ci", "hunter2"), func(o *Options) { o.Logger = logger })
	ctx := context.Background()

	if _, err := reg.GetManifest(ctx, "library/alpine", "3.20"); err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	_, _, err := reg.GetBlob(ctx, "library/alpine", d)
	requireKind(t, err, KindUnavailable)
	if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("error shows the signed URL's query: %v", err)
	}

	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if !strings.Contains(out, `"path":"/v2/library/alpine/manifests/3.20"`) {
		t.Errorf("no request line for the manifest in:\n%s", out)
	}
	secrets := []string{"hunter2", "token-1", "Bearer", "topsecret", base64.StdEncoding.EncodeToString([]byte("ci:hunter2"))}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("log contains %q:\n%s", s, out)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.w.Write(p)
}

func TestOnResponseReportsEachExchange(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})

	var mu sync.Mutex
	var got []ResponseInfo
	reg := newTestRegistry(t, f.URL(), func(o *Options) {
		o.OnResponse = func(ri ResponseInfo) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, ri)
		}
	})

	if _, err := reg.HeadManifest(context.Background(), "library/alpine", "3.20"); err != nil {
		t.Fatalf("HeadManifest: %v", err)
	}

	want := []ResponseInfo{
		{Method: http.MethodGet, Kind: "ping", Status: http.StatusUnauthorized},
		{Method: http.MethodGet, Kind: "token", Status: http.StatusOK},
		{Method: http.MethodHead, Kind: "manifest", Status: http.StatusOK},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("responses = %+v, want %d", got, len(want))
	}
	for i := range want {
		if got[i].Method != want[i].Method || got[i].Kind != want[i].Kind || got[i].Status != want[i].Status {
			t.Errorf("response %d = %+v, want %+v", i, got[i], want[i])
		}
		if got[i].Duration <= 0 {
			t.Errorf("response %d duration = %s", i, got[i].Duration)
		}
	}
}

func TestKindOf(t *testing.T) {
	err := &Error{Kind: KindQuota}

	if got := KindOf(err); got != KindQuota {
		t.Errorf("KindOf(*Error) = %s", got)
	}
	if got := KindOf(context.Canceled); got != KindUnknown {
		t.Errorf("KindOf(context.Canceled) = %s", got)
	}
}

package upstream

import (
	"context"
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestListTagsPassThrough(t *testing.T) {
	const body = `{"name":"library/alpine","tags":["3.19","3.20"]}`
	const link = `</v2/library/alpine/tags/list?last=3.20&n=2>; rel="next"`

	var gotQuery string
	f := newFakeRegistry(t, "bearer")
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v2/library/alpine/tags/list" || r.Header.Get("Authorization") == "" {
			return false
		}
		f.mu.Lock()
		gotQuery = r.URL.RawQuery
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Link", link)
		_, _ = w.Write([]byte(body))
		return true
	}
	reg := newTestRegistry(t, f.URL())

	got, gotLink, err := reg.ListTags(context.Background(), "library/alpine", "n=2&last=3.18")
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}

	if string(got) != body {
		t.Errorf("body = %q", got)
	}
	if gotLink != link {
		t.Errorf("link = %q, want %q", gotLink, link)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if gotQuery != "n=2&last=3.18" {
		t.Errorf("query = %q", gotQuery)
	}
}

func TestGetReferrers(t *testing.T) {
	const index = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`
	subject := digest.FromString("subject")

	t.Run("served", func(t *testing.T) {
		var gotQuery, gotAccept string
		f := newFakeRegistry(t, "none")
		f.handler = func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/v2/org/app/referrers/"+subject.String() {
				return false
			}
			f.mu.Lock()
			gotQuery, gotAccept = r.URL.Query().Get("artifactType"), r.Header.Get("Accept")
			f.mu.Unlock()
			w.Header().Set("Content-Type", MediaTypeOCIIndex)
			_, _ = w.Write([]byte(index))
			return true
		}
		reg := newTestRegistry(t, f.URL())

		m, err := reg.GetReferrers(context.Background(), "org/app", subject, "application/vnd.example.sbom")
		if err != nil {
			t.Fatalf("GetReferrers: %v", err)
		}

		if string(m.Body) != index || m.Digest != digest.FromString(index) || m.MediaType != MediaTypeOCIIndex {
			t.Errorf("referrers = %+v", m.Descriptor)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if gotQuery != "application/vnd.example.sbom" {
			t.Errorf("artifactType = %q", gotQuery)
		}
		if gotAccept != MediaTypeOCIIndex {
			t.Errorf("Accept = %q", gotAccept)
		}
	})

	t.Run("registry without referrers API", func(t *testing.T) {
		f := newFakeRegistry(t, "none")
		reg := newTestRegistry(t, f.URL())

		_, err := reg.GetReferrers(context.Background(), "org/app", subject, "")

		requireKind(t, err, KindNotFound)
	})
}

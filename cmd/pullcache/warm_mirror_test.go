package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeMirror serves one image with one layer at library/app:1 and requires
// the Basic auth user:secret.
func fakeMirror(t *testing.T) *httptest.Server {
	t.Helper()
	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := []byte("layer bytes")
	manifest, err := json.Marshal(v1.Manifest{
		MediaType: v1.MediaTypeImageManifest,
		Config:    v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromBytes(config), Size: int64(len(config))},
		Layers:    []v1.Descriptor{{MediaType: v1.MediaTypeImageLayerGzip, Digest: digest.FromBytes(layer), Size: int64(len(layer))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{
		"/v2/library/app/blobs/" + digest.FromBytes(config).String(): config,
		"/v2/library/app/blobs/" + digest.FromBytes(layer).String():  layer,
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "user" || pass != "secret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="pullcache"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/v2/library/app/manifests/1" {
			w.Header().Set("Content-Type", v1.MediaTypeImageManifest)
			w.Header().Set("X-Cache-Status", "MISS")
			w.Write(manifest)
			return
		}
		if data, ok := blobs[r.URL.Path]; ok {
			w.Write(data)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// writeDockerConfig writes a Docker config with an auths entry for host, as
// docker login does, and points DOCKER_CONFIG at it.
func writeDockerConfig(t *testing.T, host, user, pass string) {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	data := `{"auths":{"` + host + `":{"auth":"` + auth + `"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

func TestWarmLogsInAndCountsLayers(t *testing.T) {
	srv := fakeMirror(t)
	writeDockerConfig(t, strings.TrimPrefix(srv.URL, "http://"), "user", "secret")

	var out bytes.Buffer
	err := runWarm(context.Background(), &out, warmFlags{mirror: srv.URL, concurrency: 1, platforms: []string{"linux/amd64"}}, []string{"app:1"})
	if err != nil {
		t.Fatalf("warm: %v\n%s", err, out.String())
	}
	want := "warmed 1 of 1 images: 1 manifest, 1 layer,"
	if !strings.Contains(out.String(), want) {
		t.Errorf("warm output does not contain %q:\n%s", want, out.String())
	}
	if !strings.Contains(out.String(), "app:1: done: 1 manifest, 1 layer,") {
		t.Errorf("warm progress line does not count 1 manifest and 1 layer:\n%s", out.String())
	}
}

func TestWarmWithoutCredentialsFails(t *testing.T) {
	srv := fakeMirror(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())

	var out bytes.Buffer
	err := runWarm(context.Background(), &out, warmFlags{mirror: srv.URL, concurrency: 1}, []string{"app:1"})
	if err == nil {
		t.Fatalf("warm without credentials succeeded against a mirror that requires them:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "401 Unauthorized") || !strings.Contains(out.String(), "docker login") {
		t.Errorf("warm output does not report the 401 with a hint to log in:\n%s", out.String())
	}
}

func TestWarmRejectsIdentityToken(t *testing.T) {
	dir := t.TempDir()
	data := `{"auths":{"127.0.0.1:5000":{"identitytoken":"tok"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	if _, err := loadMirrorCredentials(context.Background(), "http://127.0.0.1:5000"); err == nil {
		t.Errorf("loadMirrorCredentials accepted an identity token for Basic auth")
	}
}

package main

import (
	"archive/tar"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var testOptions = Options{
	Version:  "v1.2.3",
	Revision: "0123456789abcdef",
	Created:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	Config:   []byte("listen: 0.0.0.0:5000\n"),
	CACerts:  []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n"),
}

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

func buildTestImage(t *testing.T, opts Options, binary string) v1.Image {
	t.Helper()
	img, err := buildImage(opts, amd64, []byte(binary))
	if err != nil {
		t.Fatalf("build image: %v", err)
	}
	return img
}

func TestImageRuntimeConfig(t *testing.T) {
	cf, err := buildTestImage(t, testOptions, "binary").ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config

	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform = %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if c.User != "65532:65532" {
		t.Errorf("user = %q, want the numeric non-root 65532:65532", c.User)
	}
	wantEntrypoint := []string{"/usr/bin/pullcache", "serve", "--config", "/etc/pullcache/config.yaml"}
	if !slices.Equal(c.Entrypoint, wantEntrypoint) {
		t.Errorf("entrypoint = %q, want %q", c.Entrypoint, wantEntrypoint)
	}
	if len(c.Cmd) != 0 {
		t.Errorf("cmd = %q, want none", c.Cmd)
	}
	for _, port := range []string{"5000/tcp", "9090/tcp"} {
		if _, ok := c.ExposedPorts[port]; !ok {
			t.Errorf("exposed ports %v lack %s", c.ExposedPorts, port)
		}
	}
	if _, ok := c.Volumes["/var/lib/pullcache"]; !ok || len(c.Volumes) != 1 {
		t.Errorf("volumes = %v, want only /var/lib/pullcache", c.Volumes)
	}
	if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"CMD", "/usr/bin/pullcache", "healthcheck", "--config", "/etc/pullcache/config.yaml"}) {
		t.Errorf("healthcheck = %+v, want CMD /usr/bin/pullcache healthcheck --config /etc/pullcache/config.yaml", c.Healthcheck)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.title":    "pullcache",
		"org.opencontainers.image.version":  "v1.2.3",
		"org.opencontainers.image.revision": "0123456789abcdef",
		"org.opencontainers.image.created":  "2026-01-02T03:04:05Z",
		"org.opencontainers.image.source":   sourceURL,
	}
	for key, want := range wantLabels {
		if got := c.Labels[key]; got != want {
			t.Errorf("label %s = %q, want %q", key, got, want)
		}
	}
	if !cf.Created.Equal(testOptions.Created) {
		t.Errorf("created = %s, want %s", cf.Created, testOptions.Created)
	}
}

// rootfsEntries flattens img's layers and returns every entry by path.
func rootfsEntries(t *testing.T, img v1.Image) (map[string]*tar.Header, map[string]string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()

	headers := map[string]*tar.Header{}
	contents := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read rootfs: %v", err)
		}
		name := "/" + strings.TrimSuffix(hdr.Name, "/")
		headers[name] = hdr
		if hdr.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("read %s: %v", name, err)
			}
			contents[name] = string(body)
		}
	}
	return headers, contents
}

func TestImageFiles(t *testing.T) {
	headers, contents := rootfsEntries(t, buildTestImage(t, testOptions, "binary"))

	if contents["/usr/bin/pullcache"] != "binary" {
		t.Errorf("/usr/bin/pullcache does not hold the binary")
	}
	if hdr := headers["/usr/bin/pullcache"]; hdr == nil || hdr.Mode != 0o755 || hdr.Uid != 0 {
		t.Errorf("/usr/bin/pullcache header = %+v, want mode 0755 owned by root", hdr)
	}
	if contents["/etc/pullcache/config.yaml"] != string(testOptions.Config) {
		t.Errorf("config.yaml = %q, want the --config file", contents["/etc/pullcache/config.yaml"])
	}
	if contents["/etc/ssl/certs/ca-certificates.crt"] != string(testOptions.CACerts) {
		t.Errorf("CA bundle differs from the --ca-certs file")
	}
	if !strings.Contains(contents["/etc/passwd"], "pullcache:x:65532:65532:") {
		t.Errorf("/etc/passwd = %q, want a pullcache user 65532", contents["/etc/passwd"])
	}
	if !strings.Contains(contents["/etc/group"], "pullcache:x:65532:") {
		t.Errorf("/etc/group = %q, want a pullcache group 65532", contents["/etc/group"])
	}

	data := headers["/var/lib/pullcache"]
	if data == nil || data.Typeflag != tar.TypeDir || data.Uid != 65532 || data.Gid != 65532 {
		t.Errorf("/var/lib/pullcache = %+v, want a directory owned by 65532:65532", data)
	}
	if tmp := headers["/tmp"]; tmp == nil || tmp.Mode != 0o1777 {
		t.Errorf("/tmp = %+v, want mode 1777", tmp)
	}
	for _, shell := range []string{"/bin/sh", "/bin/bash", "/usr/bin/sh"} {
		if _, ok := headers[shell]; ok {
			t.Errorf("image contains %s; it should hold no shell", shell)
		}
	}
}

func TestImageReproducible(t *testing.T) {
	first, err := buildTestImage(t, testOptions, "binary").Digest()
	if err != nil {
		t.Fatal(err)
	}
	second, err := buildTestImage(t, testOptions, "binary").Digest()
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("same inputs gave digests %s and %s", first, second)
	}

	other, err := buildTestImage(t, testOptions, "other binary").Digest()
	if err != nil {
		t.Fatal(err)
	}
	if other == first {
		t.Errorf("a different binary gave the same digest %s", first)
	}
}

func TestWriteOutputsRoundTrip(t *testing.T) {
	amdImage := buildTestImage(t, testOptions, "amd64 binary")
	armImage, err := buildImage(testOptions, v1.Platform{OS: "linux", Architecture: "arm64"}, []byte("arm64 binary"))
	if err != nil {
		t.Fatal(err)
	}
	images := []platformImage{{platform: amd64, image: amdImage}, {platform: v1.Platform{OS: "linux", Architecture: "arm64"}, image: armImage}}
	dir := t.TempDir()

	layoutDir := filepath.Join(dir, "oci")
	if err := writeOCILayout(layoutDir, "v1.2.3", images); err != nil {
		t.Fatalf("write layout: %v", err)
	}
	root, err := layout.ImageIndexFromPath(layoutDir)
	if err != nil {
		t.Fatalf("read layout: %v", err)
	}
	rootManifest, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(rootManifest.Manifests) != 1 || rootManifest.Manifests[0].Annotations[refNameAnnotation] != "v1.2.3" {
		t.Fatalf("index.json = %+v, want one entry tagged v1.2.3", rootManifest.Manifests)
	}
	index, err := root.ImageIndex(rootManifest.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	indexManifest, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for i, pi := range images {
		want, _ := pi.image.Digest()
		got := indexManifest.Manifests[i]
		if got.Digest != want || got.Platform == nil || got.Platform.Architecture != pi.platform.Architecture {
			t.Errorf("index entry %d = %s %+v, want %s for %s", i, got.Digest, got.Platform, want, pi.platform.Architecture)
		}
	}

	archive := filepath.Join(dir, "image.tar")
	if err := writeDockerArchive(archive, "pullcache:v1.2.3", amdImage); err != nil {
		t.Fatalf("write docker archive: %v", err)
	}
	loaded, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatalf("read docker archive: %v", err)
	}
	wantConfig, _ := amdImage.ConfigName()
	if gotConfig, _ := loaded.ConfigName(); gotConfig != wantConfig {
		t.Errorf("docker archive config = %s, want %s", gotConfig, wantConfig)
	}
}

func TestBinaryFlagRejectsBadValues(t *testing.T) {
	var flags binaryFlags
	for _, value := range []string{"dist/pullcache", "linux=dist/pullcache", "linux/amd64=", "/amd64=x"} {
		if err := flags.Set(value); err == nil {
			t.Errorf("--binary %q was accepted", value)
		}
	}
	if err := flags.Set("linux/amd64=a"); err != nil {
		t.Fatalf("valid --binary rejected: %v", err)
	}
	if err := flags.Set("linux/amd64=b"); err == nil {
		t.Error("a second linux/amd64 binary was accepted")
	}
}

func TestCheckStaticBinaryRejectsNonELF(t *testing.T) {
	if err := checkStaticBinary([]byte("#!/bin/sh\n"), "linux", "amd64"); err == nil {
		t.Error("a shell script passed as a linux binary")
	}
	if err := checkStaticBinary(nil, "linux", "mips"); err == nil || !strings.Contains(err.Error(), "unsupported architecture") {
		t.Errorf("unknown architecture: error = %v", err)
	}
}

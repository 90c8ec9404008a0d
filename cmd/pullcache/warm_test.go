package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParseWarmTarget(t *testing.T) {
	tests := []struct {
		in                  string
		registry, repo, ref string
	}{
		{"alpine", "docker.io", "library/alpine", "latest"},
		{"alpine:3.20", "docker.io", "library/alpine", "3.20"},
		{"myorg/app:1", "docker.io", "myorg/app", "1"},
		{"ghcr.io/owner/app:1.4", "ghcr.io", "owner/app", "1.4"},
		{"127.0.0.1:5001/team/tool@sha256:" + strings.Repeat("a", 64), "127.0.0.1:5001", "team/tool", "sha256:" + strings.Repeat("a", 64)},
	}
	for _, tt := range tests {
		got, err := parseWarmTarget(tt.in)
		if err != nil {
			t.Errorf("parseWarmTarget(%q): %v", tt.in, err)
			continue
		}
		if got.registry != tt.registry || got.repo != tt.repo || got.ref != tt.ref {
			t.Errorf("parseWarmTarget(%q) = %s %s %s, want %s %s %s", tt.in, got.registry, got.repo, got.ref, tt.registry, tt.repo, tt.ref)
		}
	}
	if _, err := parseWarmTarget("Alpine:3"); err == nil {
		t.Errorf("parseWarmTarget accepted an upper-case repository name")
	}
}

func TestPlatformMatcher(t *testing.T) {
	arm64v8 := &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	amd64 := &v1.Platform{OS: "linux", Architecture: "amd64"}

	p, err := parsePlatform("linux/arm64")
	if err != nil {
		t.Fatal(err)
	}
	m := platformMatcher{platforms: []v1.Platform{p}}
	if !m.matches(arm64v8) || m.matches(amd64) || m.matches(nil) {
		t.Errorf("linux/arm64 matches arm64/v8 %v, amd64 %v, no platform %v; want true, false, false", m.matches(arm64v8), m.matches(amd64), m.matches(nil))
	}
	p, err = parsePlatform("linux/arm64/v7")
	if err != nil {
		t.Fatal(err)
	}
	if (platformMatcher{platforms: []v1.Platform{p}}).matches(arm64v8) {
		t.Errorf("linux/arm64/v7 matches linux/arm64/v8")
	}
	if !(platformMatcher{all: true}).matches(nil) {
		t.Errorf("--all-platforms does not match a manifest without a platform")
	}
	for _, bad := range []string{"linux", "linux/", "/amd64", "linux/arm64/v8/x"} {
		if _, err := parsePlatform(bad); err == nil {
			t.Errorf("parsePlatform(%q) succeeded, want an error", bad)
		}
	}
}

func TestReadImageList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "images.txt")
	content := "# base images\nalpine:3.20\n\n  ghcr.io/owner/app:1  # the app\n#busybox\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readImageList(path)
	if err != nil {
		t.Fatalf("readImageList: %v", err)
	}
	if want := []string{"alpine:3.20", "ghcr.io/owner/app:1"}; !slices.Equal(got, want) {
		t.Errorf("readImageList = %q, want %q", got, want)
	}
}

func TestWarmRejectsBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"warm"}, "no image given"},
		{[]string{"warm", "--concurrency", "0", "alpine"}, "--concurrency 0"},
		{[]string{"warm", "--all-platforms", "--platform", "linux/amd64", "alpine"}, "exclude each other"},
		{[]string{"warm", "--platform", "linux", "alpine"}, "invalid platform"},
		{[]string{"warm", "library/Alpine:1"}, "invalid image reference"},
		{[]string{"warm", "-f", "/nonexistent/images.txt"}, "read image list"},
	}
	for _, tt := range tests {
		_, err := runCommand(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
}

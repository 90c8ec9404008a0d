package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestVersionCommand(t *testing.T) {
	out, err := runCommand(t, "version")
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	if !strings.HasPrefix(out, "pullcache ") {
		t.Errorf("version output %q does not start with \"pullcache \"", out)
	}
}

func TestServeFlagsOverrideFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	config := "listen: 127.0.0.1:6000\ncache:\n  tag_ttl: 0\nupstreams:\n  - name: docker.io\n    url: http://127.0.0.1:1\n    default: true\n"
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg, err := loadServeConfig(serveFlags{config: file, listen: "127.0.0.1:7000", data: filepath.Join(dir, "data"), logFormat: "json"})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if cfg.Listen != "127.0.0.1:7000" {
		t.Errorf("listen = %s, want the flag's 127.0.0.1:7000", cfg.Listen)
	}
	if cfg.Storage.Filesystem.Root != filepath.Join(dir, "data") {
		t.Errorf("data root = %s, want the flag's value", cfg.Storage.Filesystem.Root)
	}
	if cfg.LogFormat != "json" {
		t.Errorf("log format = %s, want json", cfg.LogFormat)
	}
	if cfg.Cache.TagTTL != 0 {
		t.Errorf("tag_ttl = %s, want the file's 0", cfg.Cache.TagTTL)
	}
}

func TestServeDefaultsMirrorDockerHub(t *testing.T) {
	cfg, err := loadServeConfig(serveFlags{})
	if err != nil {
		t.Fatalf("load defaults: %v", err)
	}
	if cfg.Listen != "127.0.0.1:5000" {
		t.Errorf("default listen = %s, want 127.0.0.1:5000", cfg.Listen)
	}
	if len(cfg.Upstreams) != 1 || cfg.Upstreams[0].URL != "https://registry-1.docker.io" || !cfg.Upstreams[0].Default {
		t.Errorf("default upstreams = %+v, want Docker Hub as the default", cfg.Upstreams)
	}
}

func TestServeRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("cache:\n  tagttl: 5m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"serve", "--config", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{"unknown key", []string{"serve", "--config", bad}, "tagttl"},
		{"bad log format", []string{"serve", "--log-format", "xml", "--data", filepath.Join(dir, "data")}, "log_format"},
		{"extra argument", []string{"serve", "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCommand(t, tt.args...)
			if err == nil {
				t.Fatalf("serve %v succeeded, want an error", tt.args)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

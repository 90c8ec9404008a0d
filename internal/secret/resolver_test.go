package secret

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeEnv(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		value, ok := vars[name]
		return value, ok
	}
}

func TestResolveLiteral(t *testing.T) {
	var r Resolver
	for _, value := range []string{"", "hunter2", "p:ss", "vault:x", "https://example.com", "ENV:X"} {
		got, err := r.Resolve(context.Background(), value)
		if err != nil {
			t.Errorf("Resolve(%q): %v", value, err)
		}
		if got != value {
			t.Errorf("Resolve(%q) = %q, want the literal", value, got)
		}
	}
}

func TestIsReference(t *testing.T) {
	tests := map[string]bool{
		"env:DOCKER_PASSWORD":       true,
		"file:/run/secrets/docker":  true,
		"secretsmanager:docker-hub": true,
		"ssm:/ci/docker/password":   true,
		"env:":                      true,
		"hunter2":                   false,
		"p:ss":                      false,
		"ENV:X":                     false,
		"":                          false,
	}
	for value, want := range tests {
		if got := IsReference(value); got != want {
			t.Errorf("IsReference(%q) = %v, want %v", value, got, want)
		}
	}
}

func TestResolveEnv(t *testing.T) {
	r := Resolver{LookupEnv: fakeEnv(map[string]string{"DOCKER_PASSWORD": "s3cr3t", "EMPTY": ""})}

	got, err := r.Resolve(context.Background(), "env:DOCKER_PASSWORD")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got != "s3cr3t" {
		t.Errorf("Resolve = %q, want the variable's value", got)
	}
}

func TestResolveEnvErrors(t *testing.T) {
	r := Resolver{LookupEnv: fakeEnv(map[string]string{"EMPTY": ""})}

	tests := []struct {
		ref  string
		want string
	}{
		{"env:MISSING", "environment variable MISSING is not set"},
		{"env:EMPTY", "environment variable EMPTY is empty"},
		{"env:", "missing variable name"},
		{"env:1X", `variable name "1X"`},
		{"env:A-B", `variable name "A-B"`},
	}
	for _, tt := range tests {
		_, err := r.Resolve(context.Background(), tt.ref)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Resolve(%q) error = %v, want it to contain %q", tt.ref, err, tt.want)
		}
	}
}

func TestResolveEnvFromProcess(t *testing.T) {
	t.Setenv("PULLCACHE_TEST_SECRET", "from-process")
	var r Resolver

	got, err := r.Resolve(context.Background(), "env:PULLCACHE_TEST_SECRET")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got != "from-process" {
		t.Errorf("Resolve = %q, want %q", got, "from-process")
	}
}

func TestResolveFile(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]string{
		"plain":   "s3cr3t",
		"newline": "s3cr3t\n",
		"crlf":    "s3cr3t\r\n",
		"several": "s3cr3t\n\n",
	}
	var r Resolver

	for name, contents := range tests {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
			t.Fatal(err)
		}

		got, err := r.Resolve(context.Background(), "file:"+path)
		if err != nil {
			t.Errorf("Resolve %s: %v", name, err)
		}
		if got != "s3cr3t" {
			t.Errorf("Resolve %s = %q, want %q", name, got, "s3cr3t")
		}
	}
}

func TestResolveFileKeepsInnerWhitespace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(path, []byte(" a b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var r Resolver

	got, err := r.Resolve(context.Background(), "file:"+path)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got != " a b" {
		t.Errorf("Resolve = %q, want %q", got, " a b")
	}
}

func TestResolveFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	large := filepath.Join(dir, "large")
	if err := os.WriteFile(large, []byte(strings.Repeat("s3cr3t", maxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	var r Resolver

	tests := []struct {
		ref  string
		want string
	}{
		{"file:" + missing, "read credential file " + missing},
		{"file:" + empty, "credential file " + empty + " is empty"},
		{"file:" + large, "larger than"},
		{"file:", "missing path"},
	}
	for _, tt := range tests {
		_, err := r.Resolve(context.Background(), tt.ref)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Resolve(%q) error = %v, want it to contain %q", tt.ref, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Resolve(%q) error contains the file's contents: %v", tt.ref, err)
		}
	}
}

func TestResolveFileInjected(t *testing.T) {
	r := Resolver{ReadFile: func(path string) ([]byte, error) {
		if path != "creds/password" {
			return nil, os.ErrNotExist
		}
		return []byte("injected\n"), nil
	}}

	got, err := r.Resolve(context.Background(), "file:creds/password")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got != "injected" {
		t.Errorf("Resolve = %q, want %q", got, "injected")
	}
}

func TestCheckReference(t *testing.T) {
	valid := []string{
		"hunter2",
		"env:DOCKER_PASSWORD",
		"file:relative/path",
		"secretsmanager:docker-hub",
		"secretsmanager:docker-hub:password",
		"secretsmanager:docker-hub:password:AWSPREVIOUS:1234",
		"secretsmanager:arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:docker-hub-AbCdEf",
		"secretsmanager:arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:docker-hub-AbCdEf:password:AWSCURRENT:1234",
		"ssm:/ci/docker/password",
	}
	for _, value := range valid {
		if err := CheckReference(value); err != nil {
			t.Errorf("CheckReference(%q) = %v, want nil", value, err)
		}
	}

	invalid := []string{
		"env:",
		"env:9LIVES",
		"file:",
		"secretsmanager:",
		"secretsmanager::password",
		"secretsmanager:docker-hub:a:b:c:d",
		"secretsmanager:arn:aws:secretsmanager:ap-northeast-1",
		"secretsmanager:arn:aws:s3:ap-northeast-1:123456789012:secret:x",
		"secretsmanager:arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:x:a:b:c:d",
		"ssm:",
	}
	for _, value := range invalid {
		if err := CheckReference(value); err == nil {
			t.Errorf("CheckReference(%q) = nil, want an error", value)
		}
	}
}

func TestParseSecretsManagerARN(t *testing.T) {
	ref, err := parseSecretsManager("arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:docker-hub-AbCdEf:password:AWSCURRENT")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}

	want := secretsManagerRef{
		SecretID:     "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:docker-hub-AbCdEf",
		JSONKey:      "password",
		VersionStage: "AWSCURRENT",
	}
	if ref != want {
		t.Errorf("parse = %+v, want %+v", ref, want)
	}
}

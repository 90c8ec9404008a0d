package dockerconfig

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	hubPassword = "dckr_pat_from-auths"
	helperToken = "secret-from-helper"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	return dir
}

// installHelper writes docker-credential-NAME on a PATH of its own. For
// get, the script outputs the credentials of server URLs in known, and the
// helper protocol's "not found" message for others.
func installHelper(t *testing.T, name string, known map[string]string) string {
	t.Helper()

	dir := t.TempDir()
	var cases strings.Builder
	for url, user := range known {
		cases.WriteString("  '" + url + "') printf '{\"ServerURL\":\"%s\",\"Username\":\"" + user + "\",\"Secret\":\"" + helperToken + "\"}' \"$url\" ;;\n")
	}
	script := `#!/bin/sh
log="$(dirname "$0")/calls"
echo "$1" >>"$log"
case "$1" in
get)
  read -r url
  case "$url" in
` + cases.String() + `  *) echo "credentials not found in native keychain"; exit 1 ;;
  esac ;;
*) echo "unknown action $1"; exit 1 ;;
esac
`
	path := filepath.Join(dir, "docker-credential-"+name)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

func lookup(t *testing.T, key string) (string, string, error) {
	t.Helper()

	path, err := Path()
	if err != nil {
		t.Fatal(err)
	}
	file, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return file.Lookup(context.Background(), key)
}

func TestAuthsEntries(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("hubuser:" + hubPassword))
	writeConfig(t, `{"auths": {
		"https://index.docker.io/v1/": {"auth": "`+auth+`"},
		"ghcr.io": {"username": "octo", "password": "ghcr-password"},
		"https://registry.example.com": {"identitytoken": "refresh-token-value"},
		"quay.io": {}
	}}`)

	tests := []struct {
		key, user, secret string
	}{
		{Key("docker.io", true), "hubuser", hubPassword},
		{Key("ghcr.io", false), "octo", "ghcr-password"},
		{Key("registry.example.com", false), TokenUsername, "refresh-token-value"},
	}
	for _, tt := range tests {
		user, secret, err := lookup(t, tt.key)
		if err != nil {
			t.Errorf("Lookup(%s): %v", tt.key, err)
			continue
		}
		if user != tt.user || secret != tt.secret {
			t.Errorf("Lookup(%s) = %q, %q; want %q, %q", tt.key, user, secret, tt.user, tt.secret)
		}
	}

	for _, key := range []string{"quay.io", "other.example.com"} {
		if _, _, err := lookup(t, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%s) error = %v, want ErrNotFound", key, err)
		}
	}
}

func TestCredHelpersAndStore(t *testing.T) {
	dir := installHelper(t, "pctest", map[string]string{DockerHubKey: "hub-from-helper", "ghcr.io": "ghcr-from-helper"})
	auth := base64.StdEncoding.EncodeToString([]byte("fallback:" + hubPassword))
	writeConfig(t, `{
		"auths": {"registry.example.com": {"auth": "`+auth+`"}},
		"credsStore": "pctest",
		"credHelpers": {"ghcr.io": "pctest"}
	}`)

	user, secret, err := lookup(t, DockerHubKey)
	if err != nil || user != "hub-from-helper" || secret != helperToken {
		t.Errorf("Lookup(Docker Hub) = %q, %q, %v; want the store's entry", user, secret, err)
	}
	user, _, err = lookup(t, "ghcr.io")
	if err != nil || user != "ghcr-from-helper" {
		t.Errorf("Lookup(ghcr.io) = %q, %v; want the credHelpers entry", user, err)
	}
	// The credential store has no entry, so the auths entry is returned.
	user, secret, err = lookup(t, "registry.example.com")
	if err != nil || user != "fallback" || secret != hubPassword {
		t.Errorf("Lookup(registry.example.com) = %q, %q, %v; want the auths entry", user, secret, err)
	}

	calls, err := os.ReadFile(filepath.Join(dir, "calls"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(calls), "get"); got != 3 {
		t.Errorf("helper ran get %d times, want 3", got)
	}
}

func TestHelperFailures(t *testing.T) {
	writeConfig(t, `{"credHelpers": {"ghcr.io": "missing-helper"}}`)
	_, _, err := lookup(t, "ghcr.io")
	if err == nil || !strings.Contains(err.Error(), "docker-credential-missing-helper") {
		t.Errorf("Lookup with a missing helper = %v, want an error naming it", err)
	}

	dir := t.TempDir()
	broken := "#!/bin/sh\necho 'keychain is locked'\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-broken"), []byte(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	writeConfig(t, `{"credsStore": "broken"}`)
	_, _, err = lookup(t, "ghcr.io")
	if err == nil || !strings.Contains(err.Error(), "keychain is locked") {
		t.Errorf("Lookup with a failing helper = %v, want its message", err)
	}
}

func TestLoadErrorsHideContents(t *testing.T) {
	writeConfig(t, `{"auths": {"ghcr.io": {"password": "`+hubPassword+`"`)
	path, _ := Path()
	_, err := Load(path)
	if err == nil || strings.Contains(err.Error(), hubPassword) {
		t.Errorf("Load of broken JSON = %v, want an error without the contents", err)
	}

	t.Setenv("DOCKER_CONFIG", t.TempDir())
	path, _ = Path()
	if _, err := Load(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want ErrNotExist", err)
	}
}

func TestPathDefault(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", "")
	t.Setenv("HOME", "/home/ci")
	path, err := Path()
	if err != nil || path != filepath.Join("/home/ci", ".docker", "config.json") {
		t.Errorf("Path = %q, %v", path, err)
	}
}

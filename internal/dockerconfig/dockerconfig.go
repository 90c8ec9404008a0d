// Package dockerconfig reads a registry's credentials the way the Docker
// CLI stores them: the config file's "auths" entries (plain, base64 "auth"
// or an identity token) and the credential helpers named by "credsStore"
// and "credHelpers".
package dockerconfig

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DockerHubKey is the key under which the Docker CLI stores Docker Hub's
// credentials, whatever registry host the pulls go to.
const DockerHubKey = "https://index.docker.io/v1/"

// TokenUsername is the username that marks the secret as an identity token
// in the credential-helper protocol. The upstream client reads it the same
// way.
const TokenUsername = "<token>"

// maxConfigSize bounds the config file read; real ones are a few KiB.
const maxConfigSize = 1 << 20

// ErrNotFound means the config file has no credentials for the registry.
var ErrNotFound = errors.New("no credentials for this registry in the Docker config")

// File is the part of ~/.docker/config.json that holds credentials.
type File struct {
	Auths       map[string]AuthEntry `json:"auths"`
	CredsStore  string               `json:"credsStore,omitempty"`
	CredHelpers map[string]string    `json:"credHelpers,omitempty"`
}

// AuthEntry is one "auths" entry. Auth is base64 of "user:password".
type AuthEntry struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// Path returns the config file the Docker CLI uses: config.json in
// $DOCKER_CONFIG, else in ~/.docker.
func Path() (string, error) {
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the Docker config: %w", err)
	}
	return filepath.Join(home, ".docker", "config.json"), nil
}

// Load reads and parses the config file at path.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read Docker config: %w", err)
	}
	defer f.Close()

	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read Docker config %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("read Docker config %s: larger than %d bytes", path, maxConfigSize)
	}

	var file File
	if err := json.Unmarshal(data, &file); err != nil {
		// The decoder's message can quote a byte of the file, which may be
		// part of a credential, so only the offset is kept.
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, fmt.Errorf("parse Docker config %s: not valid JSON (at byte %d)", path, syntax.Offset)
		}
		return nil, fmt.Errorf("parse Docker config %s: a field has the wrong type", path)
	}
	return &file, nil
}

// Key returns the config key for a registry host: DockerHubKey for Docker
// Hub, else the host itself.
func Key(registry string, dockerHub bool) string {
	if dockerHub {
		return DockerHubKey
	}
	return registry
}

// Lookup returns the credentials for the registry key: from the helper in
// credHelpers for its host, else from credsStore, else from its auths
// entry. A helper that has none falls back to auths, as the file may have
// entries written before the helper was set up. With an identity token the
// username is TokenUsername and the secret is the token.
func (f *File) Lookup(ctx context.Context, key string) (username, secret string, err error) {
	host := hostOf(key)

	helper := f.CredHelpers[host]
	if helper == "" {
		helper = f.CredHelpers[key]
	}
	if helper == "" {
		helper = f.CredsStore
	}
	if helper != "" {
		username, secret, err := HelperGet(ctx, helper, key)
		if err == nil {
			return username, secret, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return "", "", err
		}
	}

	entry, ok := f.findAuth(key)
	if !ok {
		return "", "", ErrNotFound
	}
	return entry.credentials(key)
}

// findAuth matches the exact key first, then any key naming the same host,
// because "docker login" wrote some as URLs and some as bare hosts.
func (f *File) findAuth(key string) (AuthEntry, bool) {
	if entry, ok := f.Auths[key]; ok {
		return entry, true
	}
	host := hostOf(key)
	for k, entry := range f.Auths {
		if hostOf(k) == host {
			return entry, true
		}
	}
	return AuthEntry{}, false
}

func (e AuthEntry) credentials(key string) (string, string, error) {
	if e.IdentityToken != "" {
		return TokenUsername, e.IdentityToken, nil
	}
	if e.Username != "" && e.Password != "" {
		return e.Username, e.Password, nil
	}
	if e.Auth == "" {
		return "", "", ErrNotFound
	}

	decoded, err := base64.StdEncoding.DecodeString(e.Auth)
	if err != nil {
		return "", "", fmt.Errorf("auths entry %s: the auth field is not base64", key)
	}
	user, pass, ok := strings.Cut(string(decoded), ":")
	if !ok || user == "" {
		return "", "", fmt.Errorf("auths entry %s: the auth field is not base64 of USER:PASSWORD", key)
	}
	return user, pass, nil
}

// hostOf reduces a config key such as https://index.docker.io/v1/ to its
// host, as the Docker CLI does when it matches keys.
func hostOf(key string) string {
	host := strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	host, _, _ = strings.Cut(host, "/")
	return strings.ToLower(host)
}

// Lookup reads the Docker config file again and looks key up in it, so a
// "docker login" after start-up is seen by the next refresh.
func Lookup(ctx context.Context, key string) (username, secret string, err error) {
	path, err := Path()
	if err != nil {
		return "", "", err
	}
	file, err := Load(path)
	if err != nil {
		return "", "", err
	}
	username, secret, err = file.Lookup(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return "", "", fmt.Errorf("%s has no credentials for %s (log in with docker login, or set a credential helper)", path, key)
	}
	return username, secret, err
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"

	"github.com/pullcache/pullcache/internal/dockerconfig"
)

// mirrorCredentials is the username and password warm sends to the mirror
// with HTTP Basic auth.
type mirrorCredentials struct {
	username, password string
}

// loadMirrorCredentials looks the mirror's host up in the Docker config,
// where docker login and crane auth login store it. No config file, or no
// entry for the host, gives nil: warm then sends no Authorization header.
func loadMirrorCredentials(ctx context.Context, mirror string) (*mirrorCredentials, error) {
	u, err := url.Parse(mirror)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("invalid --mirror %q: want a URL such as http://127.0.0.1:5000", mirror)
	}
	path, err := dockerconfig.Path()
	if err != nil {
		return nil, err
	}
	file, err := dockerconfig.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}

	username, secret, err := file.Lookup(ctx, u.Host)
	if errors.Is(err, dockerconfig.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("credentials for the mirror %s: %w", u.Host, err)
	}
	if username == dockerconfig.TokenUsername {
		return nil, fmt.Errorf("credentials for the mirror %s: %s contains an identity token, but the mirror accepts only a username and password; log in again with docker login %s", u.Host, path, u.Host)
	}
	return &mirrorCredentials{username: username, password: secret}, nil
}

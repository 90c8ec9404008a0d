package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/dockerconfig"
	"github.com/pullcache/pullcache/internal/secret"
)

// credentialHelperName is the program name Docker runs for
// "credsStore": "pullcache" or "credHelpers": {"docker.io": "pullcache"}.
const credentialHelperName = "docker-credential-pullcache"

// helperConfigEnv names the configuration file in credential-helper mode,
// where Docker passes no flags.
const helperConfigEnv = "PULLCACHE_CONFIG"

// defaultInstalledConfig is read in credential-helper mode when
// PULLCACHE_CONFIG is unset and the file exists.
const defaultInstalledConfig = "/etc/pullcache/config.yaml"

// errHelperNotFound is the message of the credential-helper protocol for
// "nothing stored for this server"; Docker then goes on without
// credentials.
var errHelperNotFound = errors.New("credentials not found in native keychain")

// isCredentialHelperName reports whether the binary runs as Docker's
// credential helper, through a symlink or copy named for it.
func isCredentialHelperName(arg0 string) bool {
	return strings.TrimSuffix(filepath.Base(arg0), ".exe") == credentialHelperName
}

// runAsCredentialHelper runs one helper action as the protocol expects: the
// result on stdout, and on failure the message on stdout and exit status 1.
func runAsCredentialHelper(args []string) int {
	if len(args) != 1 {
		fmt.Fprintf(os.Stdout, "usage: %s get|list\n", credentialHelperName)
		return 1
	}
	path := os.Getenv(helperConfigEnv)
	if path == "" {
		if _, err := os.Stat(defaultInstalledConfig); err == nil {
			path = defaultInstalledConfig
		}
	}
	if err := runCredentialHelper(context.Background(), args[0], path, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stdout, err)
		return 1
	}
	return 0
}

func newCredentialHelperCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "credential-helper get|list",
		Short: "Answer as a Docker credential helper for the configured registries",
		Long: `Answer as a Docker credential helper: get reads a server URL on stdin and
prints {"ServerURL","Username","Secret"} for the configured upstream of that
registry; list prints the configured registries and user names. Installed
as ` + credentialHelperName + ` (a symlink or copy on PATH), the binary does
the same without the subcommand, reading the configuration from
$` + helperConfigEnv + ` or ` + defaultInstalledConfig + `, so a build that pulls
directly from a registry logs in without a password on disk.
Upstreams with docker_config are not answered: Docker reads its own config.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"get", "list"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				path = os.Getenv(helperConfigEnv)
			}
			return runCredentialHelper(cmd.Context(), args[0], path, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "configuration file (YAML); default $"+helperConfigEnv+", else the defaults")
	return cmd
}

// helperCredentials is the JSON response to get.
type helperCredentials struct {
	ServerURL string `json:"ServerURL"`
	Username  string `json:"Username"`
	Secret    string `json:"Secret"`
}

func runCredentialHelper(ctx context.Context, action, path string, in io.Reader, out, errOut io.Writer) error {
	cfg, err := loadConfigFile(path)
	if err != nil {
		return err
	}

	switch action {
	case "get":
		serverURL, err := io.ReadAll(io.LimitReader(in, 4<<10))
		if err != nil {
			return fmt.Errorf("read server URL: %w", err)
		}
		return helperGet(ctx, cfg, strings.TrimSpace(string(serverURL)), out, errOut)
	case "list":
		return helperList(ctx, cfg, out, errOut)
	case "store", "erase":
		return fmt.Errorf("%s is read-only: credentials come from the pullcache configuration", credentialHelperName)
	}
	return fmt.Errorf("unknown action %q: want get or list", action)
}

func helperGet(ctx context.Context, cfg config.Config, serverURL string, out, errOut io.Writer) error {
	u, ok := upstreamForServer(cfg, serverURL)
	if !ok || u.DockerConfig {
		return errHelperNotFound
	}
	creds := newUpstreamCredentials(u, &secret.Resolver{}, newCommandLogger(errOut), credentialsObserver{})
	if !creds.Configured() {
		return errHelperNotFound
	}
	if err := creds.Load(ctx); err != nil {
		return err
	}
	user, pass, err := creds.Get(ctx)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(helperCredentials{ServerURL: serverURL, Username: user, Secret: pass})
}

// helperList prints the server URL Docker uses for each configured upstream
// that has credentials, with its user name.
func helperList(ctx context.Context, cfg config.Config, out, errOut io.Writer) error {
	list := map[string]string{}
	resolver := &secret.Resolver{}
	for _, u := range cfg.Upstreams {
		creds := newUpstreamCredentials(u, resolver, newCommandLogger(errOut), credentialsObserver{})
		if u.DockerConfig || !creds.Configured() {
			continue
		}
		if err := creds.Load(ctx); err != nil {
			return err
		}
		list[serverURLFor(u)] = creds.Username()
	}
	return json.NewEncoder(out).Encode(list)
}

// dockerHubHosts are the hosts that name Docker Hub in a server URL.
var dockerHubHosts = map[string]bool{"index.docker.io": true, "docker.io": true, "registry-1.docker.io": true}

// upstreamForServer finds the upstream for a server URL as Docker sends
// it: https://index.docker.io/v1/ for Docker Hub, else the registry host.
func upstreamForServer(cfg config.Config, serverURL string) (config.Upstream, bool) {
	host := strings.TrimPrefix(strings.TrimPrefix(serverURL, "https://"), "http://")
	host, _, _ = strings.Cut(host, "/")
	if dockerHubHosts[strings.ToLower(host)] {
		host = "docker.io"
	}
	return cfg.Upstream(host)
}

func serverURLFor(u config.Upstream) string {
	if u.IsDockerHub() {
		return dockerconfig.DockerHubKey
	}
	return u.Name
}

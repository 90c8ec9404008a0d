package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/secret"
)

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect the configuration",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newConfigCheckCommand())
	return cmd
}

func newConfigCheckCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and resolve its credential references",
		Long: `Validate the configuration file, resolve every credential reference (env,
file, secretsmanager, ssm, docker_config) and load the htpasswd file and the
TLS certificate and key as serve would at start-up, and print the effective
configuration with literal passwords masked. Credentials are printed as their references and the resolved user name,
never as values. The exit status is non-zero when anything fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConfigCheck(cmd.Context(), path, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "configuration file (YAML); without it the defaults are checked")
	return cmd
}

func runConfigCheck(ctx context.Context, path string, out, errOut io.Writer) error {
	cfg, err := loadConfigFile(path)
	if err != nil {
		return err
	}

	text, err := yaml.Marshal(cfg.Masked())
	if err != nil {
		return fmt.Errorf("print configuration: %w", err)
	}
	source := path
	if source == "" {
		source = "(defaults)"
	}
	fmt.Fprintf(out, "# effective configuration from %s; literal passwords are masked\n%s", source, text)

	log := newCommandLogger(errOut)
	credentials, loadErr := loadCredentials(ctx, cfg, log, credentialsObserver{})
	fmt.Fprintln(out, "# credentials")
	for _, u := range cfg.Upstreams {
		fmt.Fprintf(out, "#   %s: %s\n", u.Name, describeCredentials(u, credentials))
	}
	if loadErr != nil {
		loadErr = fmt.Errorf("resolve credentials: %w", loadErr)
	}
	return errors.Join(loadErr, checkSecurityFiles(cfg, log, out))
}

// checkSecurityFiles loads the htpasswd file and the TLS certificate and key
// with the code serve runs at start-up, so that config check fails on any
// file that serve rejects.
func checkSecurityFiles(cfg config.Config, log *slog.Logger, out io.Writer) error {
	var errs []error
	if cfg.Auth != nil {
		if _, err := newClientAuth(cfg, log); err != nil {
			errs = append(errs, err)
			fmt.Fprintf(out, "# auth.htpasswd: %s: REJECTED (see the error below)\n", cfg.Auth.Htpasswd)
		} else {
			fmt.Fprintf(out, "# auth.htpasswd: %s: loaded\n", cfg.Auth.Htpasswd)
		}
	}
	if cfg.TLS != nil {
		if _, err := newTLSConfig(cfg, log); err != nil {
			errs = append(errs, err)
			fmt.Fprintf(out, "# tls: %s: REJECTED (see the error below)\n", cfg.TLS.Cert)
		} else {
			fmt.Fprintf(out, "# tls: %s: loaded\n", cfg.TLS.Cert)
		}
	}
	return errors.Join(errs...)
}

// describeCredentials returns where an upstream's credentials come from
// and, once resolved, the user name, which is not a secret.
func describeCredentials(u config.Upstream, resolved map[string]*secret.Credentials) string {
	creds, ok := resolved[u.Name]
	if !ok {
		return "NOT RESOLVED (see the error below)"
	}
	if !creds.Configured() {
		return "anonymous"
	}
	return fmt.Sprintf("resolved, user %q (%s)", creds.Username(), creds.Source())
}

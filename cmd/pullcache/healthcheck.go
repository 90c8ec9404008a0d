package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pullcache/pullcache/internal/config"
)

const (
	// defaultAdminURL is the admin listener of a server started with the
	// default configuration.
	defaultAdminURL = "http://127.0.0.1:9090"
	// defaultHealthcheckTimeout stays below the 5 s timeout of the image's
	// health check, so the command reports a slow server itself instead of
	// being killed.
	defaultHealthcheckTimeout = 3 * time.Second
	// maxHealthBody bounds how much of a failing response goes into the
	// error message.
	maxHealthBody = 512
)

func newHealthcheckCommand() *cobra.Command {
	var adminURL, configPath string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Check that a running server is healthy, for exec probes",
		Long: `Send GET /healthz to a running server's admin listener. The exit code
is 0 when it returns 200 and 1 otherwise, which is what Docker's
HEALTHCHECK and Kubernetes exec probes expect. HTTP proxy variables are
ignored: the request goes straight to the admin address.

With --config (or PULLCACHE_CONFIG), the address comes from admin_listen
and the scheme is https when tls is set. A loopback address cannot match
the names in the server's certificate, so for a loopback host the server's
certificate must chain to a certificate in the tls.cert file instead.
Other hosts get the usual verification, with the tls.cert file's
certificates trusted in addition to the system's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("config") {
				configPath = os.Getenv(helperConfigEnv)
			}
			target, err := resolveHealthTarget(adminURL, cmd.Flags().Changed("admin"), configPath)
			if err != nil {
				return err
			}

			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := checkHealthTarget(ctx, target); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&adminURL, "admin", defaultAdminURL, "base URL of the server's admin listener; overrides the address from --config")
	f.StringVar(&configPath, "config", "", "configuration file (YAML) to take admin_listen and tls from (default: $PULLCACHE_CONFIG when set)")
	f.DurationVar(&timeout, "timeout", defaultHealthcheckTimeout, "time allowed for the whole check")
	return cmd
}

// healthTarget is the admin URL a health check requests and the
// certificate file it trusts in addition.
type healthTarget struct {
	base *url.URL
	// certFile is the configured tls.cert, empty without --config or tls.
	certFile string
}

// resolveHealthTarget combines --admin and the configuration file: the
// file gives the address and scheme unless --admin was given, and its
// tls.cert is trusted either way.
func resolveHealthTarget(adminURL string, adminSet bool, configPath string) (healthTarget, error) {
	var target healthTarget
	if configPath != "" {
		cfg, err := config.Load(configPath)
		if err != nil {
			return healthTarget{}, err
		}
		if cfg.TLS != nil {
			target.certFile = cfg.TLS.Cert
		}
		if !adminSet {
			adminURL = adminURLFromConfig(cfg)
		}
	}

	base, err := url.Parse(adminURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return healthTarget{}, fmt.Errorf("invalid --admin URL %q: want http://HOST:PORT, such as %s", adminURL, defaultAdminURL)
	}
	target.base = base
	return target, nil
}

// checkHealthTarget returns nil when GET <target>/healthz returns 200.
func checkHealthTarget(ctx context.Context, target healthTarget) error {
	endpoint := strings.TrimSuffix(target.base.String(), "/") + "/healthz"

	transport := &http.Transport{Proxy: nil}
	if target.base.Scheme == "https" {
		tlsConfig, err := healthTLSConfig(target.base.Hostname(), target.certFile)
		if err != nil {
			return err
		}
		transport.TLSClientConfig = tlsConfig
	}
	client := &http.Client{Transport: transport}
	defer client.CloseIdleConnections()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", endpoint, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		var unverified *tls.CertificateVerificationError
		if errors.As(err, &unverified) && target.certFile == "" {
			return fmt.Errorf("healthcheck %s: %w (pass --config with the server's configuration so that its tls.cert is trusted)", endpoint, err)
		}
		return fmt.Errorf("healthcheck %s: %w", endpoint, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
		return fmt.Errorf("healthcheck %s: status %d: %s", endpoint, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

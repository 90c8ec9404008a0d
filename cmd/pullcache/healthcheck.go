package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
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
	var adminURL string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Check that a running server is healthy, for exec probes",
		Long: `Send GET /healthz to a running server's admin listener. The exit code
is 0 when it returns 200 and 1 otherwise, which is what Docker's
HEALTHCHECK and Kubernetes exec probes expect. HTTP proxy variables are
ignored: the request goes straight to the admin address.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := checkHealth(ctx, adminURL); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&adminURL, "admin", defaultAdminURL, "base URL of the server's admin listener (admin_listen)")
	f.DurationVar(&timeout, "timeout", defaultHealthcheckTimeout, "time allowed for the whole check")
	return cmd
}

// checkHealth returns nil when GET <adminURL>/healthz returns 200.
func checkHealth(ctx context.Context, adminURL string) error {
	base, err := url.Parse(adminURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("invalid --admin URL %q: want http://HOST:PORT, such as %s", adminURL, defaultAdminURL)
	}
	target := strings.TrimSuffix(base.String(), "/") + "/healthz"

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", target, err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()

	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", target, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
		return fmt.Errorf("healthcheck %s: status %d: %s", target, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

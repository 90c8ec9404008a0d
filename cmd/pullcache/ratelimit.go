package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/distribution/reference"
	"github.com/spf13/cobra"

	"github.com/pullcache/pullcache/internal/config"
	"github.com/pullcache/pullcache/internal/ipranges"
	"github.com/pullcache/pullcache/internal/secret"
	"github.com/pullcache/pullcache/internal/upstream"
)

// probeImage is Docker's own image for reading the rate limit.
const probeImage = "ratelimitpreview/test:latest"

type ratelimitFlags struct {
	config    string
	upstream  string
	anonymous bool
	json      bool
	ipRanges  string
}

func newRatelimitCommand() *cobra.Command {
	var flags ratelimitFlags
	cmd := &cobra.Command{
		Use:   "ratelimit [IMAGE]",
		Short: "Show an upstream's pull rate limit for each identity",
		Long: `Ask upstream for its current pull rate limit with a HEAD request on IMAGE's
manifest, which Docker Hub does not count as a pull: once anonymously and
once with the configured credentials. Prints the limit, the pulls remaining,
the window and the source the pulls are counted against (an address or an
account). IMAGE defaults to ` + probeImage + ` on Docker Hub.

With --ip-ranges (AWS's ip-ranges.json) and an address as the source, it
also names the published ranges that hold the address and their size: every
other tenant of that range may share the same anonymous limit.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			image := ""
			if len(args) == 1 {
				image = args[0]
			}
			return runRatelimit(cmd.Context(), image, flags, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.config, "config", "", "configuration file (YAML); without it the defaults apply")
	f.StringVar(&flags.upstream, "upstream", "", "configured upstream to ask (default: the one IMAGE names, else the default upstream)")
	f.BoolVar(&flags.anonymous, "anonymous", false, "ask anonymously only")
	f.BoolVar(&flags.json, "json", false, "print JSON")
	f.StringVar(&flags.ipRanges, "ip-ranges", "", "AWS ip-ranges.json file to look the source address up in")
	return cmd
}

// ratelimitReport is the command's result, also its JSON form.
type ratelimitReport struct {
	Upstream string           `json:"upstream"`
	Image    string           `json:"image"`
	Results  []identityResult `json:"results"`
}

type identityResult struct {
	Identity      string        `json:"identity"` // "anonymous" or "credentials"
	User          string        `json:"user,omitempty"`
	Limited       bool          `json:"limited"` // false: no rate-limit headers
	Limit         int           `json:"limit,omitempty"`
	Remaining     int           `json:"remaining,omitempty"`
	WindowSeconds int64         `json:"window_seconds,omitempty"`
	Source        string        `json:"source,omitempty"`
	SourceKind    string        `json:"source_kind,omitempty"` // address or account
	Ranges        []rangeResult `json:"ranges,omitempty"`
	Error         string        `json:"error,omitempty"`
}

type rangeResult struct {
	Prefix      string `json:"prefix"`
	Service     string `json:"service"`
	Region      string `json:"region"`
	Addresses   string `json:"addresses"`
	Networks64  string `json:"ipv6_64_networks,omitempty"`
	description string
}

func runRatelimit(ctx context.Context, image string, flags ratelimitFlags, out, errOut io.Writer) error {
	cfg, err := loadConfigFile(flags.config)
	if err != nil {
		return err
	}
	u, repo, ref, err := ratelimitTarget(cfg, image, flags.upstream)
	if err != nil {
		return err
	}
	var ranges *ipranges.Ranges
	if flags.ipRanges != "" {
		if ranges, err = ipranges.Load(flags.ipRanges); err != nil {
			return err
		}
	}

	report := ratelimitReport{Upstream: u.Name, Image: repo + ":" + ref}
	if strings.Contains(ref, ":") {
		report.Image = repo + "@" + ref
	}

	report.Results = append(report.Results, probeRateLimit(ctx, u, repo, ref, nil))
	if !flags.anonymous {
		creds := newUpstreamCredentials(u, &secret.Resolver{}, newCommandLogger(errOut), credentialsObserver{})
		if creds.Configured() {
			report.Results = append(report.Results, probeRateLimit(ctx, u, repo, ref, creds))
		}
	}
	for i := range report.Results {
		addRanges(&report.Results[i], ranges)
	}

	if flags.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else {
		printRatelimit(out, report)
	}

	for _, r := range report.Results {
		if r.Error != "" {
			return errors.New("not every identity could be checked")
		}
	}
	return nil
}

// ratelimitTarget picks the upstream and the repository to ask about.
func ratelimitTarget(cfg config.Config, image, upstreamName string) (config.Upstream, string, string, error) {
	if image == "" {
		image = probeImage
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return config.Upstream{}, "", "", fmt.Errorf("invalid image %q: %w", image, err)
	}

	ref := "latest"
	if tagged, ok := named.(reference.Tagged); ok {
		ref = tagged.Tag()
	}
	if digested, ok := named.(reference.Digested); ok {
		ref = digested.Digest().String()
	}

	name := upstreamName
	if name == "" {
		name = reference.Domain(named)
	}
	u, ok := cfg.Upstream(name)
	if !ok && upstreamName == "" && reference.Domain(named) == "docker.io" {
		// A short name such as alpine goes to the default upstream, as a
		// pull through the mirror does.
		u, ok = cfg.DefaultUpstream()
	}
	if !ok {
		return config.Upstream{}, "", "", fmt.Errorf("no upstream named %s in the configuration; name one with --upstream", name)
	}
	return u, reference.Path(named), ref, nil
}

// probeRateLimit sends one HEAD for the manifest, anonymously when creds
// is nil, and reads the rate-limit headers of the response.
func probeRateLimit(ctx context.Context, u config.Upstream, repo, ref string, creds *secret.Credentials) identityResult {
	result := identityResult{Identity: "anonymous"}
	opts := upstream.Options{
		Name:            u.Name,
		URL:             u.URL,
		ConnectTimeout:  u.Timeouts.Connect,
		IdleReadTimeout: u.Timeouts.IdleRead,
	}
	if creds != nil {
		result.Identity = "credentials"
		if err := creds.Load(ctx); err != nil {
			result.Error = err.Error()
			return result
		}
		result.User = creds.Username()
		opts.Credentials = creds.Get
	}

	client, err := upstream.New(opts)
	if err != nil {
		result.Error = err.Error()
		return result
	}
	_, headErr := client.HeadManifest(ctx, repo, ref)

	if rl, ok := client.RateLimit(); ok {
		result.Limited = true
		result.Limit, result.Remaining = rl.Limit, rl.Remaining
		result.WindowSeconds = int64(rl.Window / time.Second)
		result.Source = rl.Source
		result.SourceKind = sourceKind(rl.Source)
	}
	if headErr != nil {
		result.Error = headErr.Error()
	}
	return result
}

// sourceKind classifies a docker-ratelimit-source value as an address (or
// IPv6 prefix) or an account id.
func sourceKind(source string) string {
	if source == "" {
		return ""
	}
	if _, err := netip.ParseAddr(source); err == nil {
		return "address"
	}
	return "account"
}

func addRanges(r *identityResult, ranges *ipranges.Ranges) {
	if ranges == nil || r.SourceKind != "address" {
		return
	}
	addr := netip.MustParseAddr(r.Source)
	for _, rng := range ranges.Containing(addr) {
		rr := rangeResult{
			Prefix:    rng.Prefix.String(),
			Service:   rng.Service,
			Region:    rng.Region,
			Addresses: rng.Addresses().String(),
		}
		size := rr.Addresses + " addresses"
		if n := rng.Networks64(); n.Sign() > 0 {
			rr.Networks64 = n.String()
			size = rr.Networks64 + " /64 networks"
		}
		rr.description = fmt.Sprintf("%s is in %s, published for %s in %s: %s whose tenants may share this address and its limit", r.Source, rr.Prefix, rr.Service, rr.Region, size)
		r.Ranges = append(r.Ranges, rr)
	}
}

func printRatelimit(out io.Writer, report ratelimitReport) {
	fmt.Fprintf(out, "upstream %s, image %s\n", report.Upstream, report.Image)

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTITY\tLIMIT\tREMAINING\tWINDOW\tSOURCE")
	for _, r := range report.Results {
		identity := identityLabel(r)
		switch {
		case r.Limited:
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s (%s)\n", identity, r.Limit, r.Remaining, formatWindow(r.WindowSeconds), r.Source, r.SourceKind)
		case r.Error == "":
			fmt.Fprintf(tw, "%s\tunlimited\t-\t-\tno rate-limit headers\n", identity)
		default:
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\n", identity)
		}
	}
	tw.Flush()

	for _, r := range report.Results {
		for _, rng := range r.Ranges {
			fmt.Fprintf(out, "%s\n", rng.description)
		}
		if r.Error != "" {
			fmt.Fprintf(out, "%s: %s\n", identityLabel(r), r.Error)
		}
	}
}

func identityLabel(r identityResult) string {
	if r.User != "" {
		return "user " + r.User
	}
	return r.Identity
}

func formatWindow(seconds int64) string {
	d := time.Duration(seconds) * time.Second
	switch {
	case d == 0:
		return "-"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

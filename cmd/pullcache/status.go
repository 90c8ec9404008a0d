package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/pullcache/pullcache/internal/status"
)

func newStatusCommand() *cobra.Command {
	var adminURL string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what a running mirror saves and how much quota is left",
		Long: `Show the numbers of the status page of a running mirror: per upstream the
pulls answered, the pulls spent upstream and the quota left, the hit ratio,
the store's usage and the latest warnings and errors. It reads
/status.json from the admin listener.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			report, raw, err := fetchStatus(cmd.Context(), adminURL)
			if err != nil {
				return err
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(raw)
				return err
			}
			return printStatus(cmd.OutOrStdout(), report)
		},
	}
	cmd.Flags().StringVar(&adminURL, "admin", defaultAdminURL, "base URL of the mirror's admin listener")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func fetchStatus(ctx context.Context, adminURL string) (status.Report, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := strings.TrimSuffix(adminURL, "/") + "/status.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return status.Report{}, nil, fmt.Errorf("--admin %s: %w", adminURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return status.Report{}, nil, fmt.Errorf("read status from %s (is pullcache serve running there? see --admin): %w", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return status.Report{}, nil, fmt.Errorf("read status from %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return status.Report{}, nil, fmt.Errorf("read status from %s: %s: %s", url, resp.Status, strings.TrimSpace(string(raw)))
	}
	var report status.Report
	if err := json.Unmarshal(raw, &report); err != nil {
		return status.Report{}, nil, fmt.Errorf("read status from %s: %w", url, err)
	}
	return report, raw, nil
}

func printStatus(w io.Writer, r status.Report) error {
	fmt.Fprintf(w, "pullcache %s, running since %s, history since %s\n",
		r.Version, r.Started.Local().Format(time.DateTime), r.Since.Local().Format(time.DateTime))
	fmt.Fprintf(w, "hit ratio %.1f%%, served %s, fetched %s, %d requests joined a fetch in progress\n",
		100*r.HitRatio, humanize.IBytes(uint64(r.ServedBytes)), humanize.IBytes(uint64(r.FetchedBytes)), int64(r.Coalesced))
	writes := "ok"
	if r.Store.Writes != nil && r.Store.Writes.Failing {
		writes = "FAILING: " + r.Store.Writes.LastError
	}
	sampled := "not measured yet"
	if !r.Store.Sampled.IsZero() {
		sampled = "measured " + humanize.RelTime(r.Store.Sampled, r.GeneratedAt, "ago", "from now")
	}
	fmt.Fprintf(w, "store %s in %d objects (%s), writes %s\n\n", humanize.IBytes(uint64(r.Store.Bytes)), r.Store.Objects, sampled, writes)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "UPSTREAM\tPULLS ANSWERED\tSPENT UPSTREAM\tSAVED\tQUOTA LEFT\tFAILED REQUESTS\tRETRIES\tFROM FALLBACKS\tRESERVE ANSWERS")
	for _, u := range r.Upstreams {
		quota := "no limit reported"
		if u.RateLimit != nil {
			quota = fmt.Sprintf("%d of %d", u.RateLimit.Remaining, u.RateLimit.Limit)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d of %d\t%d\t%d (%d rejected)\t%d\n", u.Name, int64(u.PullsAnswered), int64(u.PullsSpent),
			int64(u.PullsSaved), quota, int64(u.Failures), int64(u.Requests), int64(u.Retries),
			int64(u.FallbackFetches), int64(u.FallbackRejected), int64(u.ReserveAnswers))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	if len(r.Errors) == 0 {
		fmt.Fprintln(w, "no warnings or errors since start-up")
		return nil
	}
	fmt.Fprintln(w, "latest warnings and errors:")
	for _, e := range r.Errors {
		line := e.Time.Local().Format(time.DateTime) + " " + e.Level + " " + e.Message
		if e.Upstream != "" {
			line += " (" + e.Upstream + ")"
		}
		if e.Error != "" {
			line += ": " + e.Error
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

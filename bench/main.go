// Command bench measures pullcache side by side with the distribution
// registry in proxy mode (Debian's docker-registry) and with the upstream
// itself, on loopback. It builds pullcache, starts hubsim in process as the
// upstream, runs five workloads and writes results.json, results.md and SVG
// plots to the output directory.
//
//	go run ./bench -out bench-results          # full run, about 4 minutes on 2 cores
//	go run ./bench -smoke -out /tmp/smoke      # small sizes, under a minute
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	var opts Options
	flag.StringVar(&opts.OutDir, "out", "bench-results", "directory for results.json, results.md and the SVG plots")
	flag.BoolVar(&opts.Smoke, "smoke", false, "small sizes and short runs, to check that every workload completes")
	flag.StringVar(&opts.Registry, "registry", "/usr/bin/docker-registry", "docker-registry binary for the reference mirror; empty skips the reference")
	flag.StringVar(&opts.Workloads, "workloads", "burst,coalesce,warm,storm,growth", "comma-separated workloads to run")
	flag.BoolVar(&opts.KeepDir, "keep", false, "keep the scratch directory with the stores, configs and server logs")
	replot := flag.Bool("replot", false, "rewrite results.md and the plots from the results.json in -out, without measuring")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *replot {
		if err := rewriteReport(opts.OutDir); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		return
	}

	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	if _, err := Run(ctx, opts); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

type warmFlags struct {
	mirror       string
	platforms    []string
	allPlatforms bool
	file         string
	concurrency  int
}

// defaultWarmConcurrency is how many images warm pulls at once by default.
const defaultWarmConcurrency = 4

func newWarmCommand() *cobra.Command {
	var flags warmFlags
	cmd := &cobra.Command{
		Use:   "warm [flags] [IMAGE ...]",
		Short: "Pull images through a running mirror so that it stores them",
		Long: `Pull images through a running mirror, so that it stores them before the
clients need them. Each IMAGE is a reference as docker pull takes it, such as
alpine:3.20 or ghcr.io/owner/app@sha256:...; -f reads more, one a line.

warm reads every manifest and blob of the image for the selected platforms
and checks their digests. When the Docker config (as docker login or crane
auth login write it) has credentials for the mirror's host, warm sends them
with HTTP Basic auth. It prints a summary with the upstream pulls the
mirror spent: the manifests it answered with X-Cache-Status MISS or BYPASS,
which it fetched from upstream with a GET. It exits with status 1 and lists
the images that failed when any did.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWarm(cmd.Context(), cmd.OutOrStdout(), flags, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.mirror, "mirror", "http://127.0.0.1:5000", "base URL of the mirror")
	f.StringArrayVar(&flags.platforms, "platform", nil, "platform to pull from multi-platform images, OS/ARCH[/VARIANT]; repeat for more (default this machine's)")
	f.BoolVar(&flags.allPlatforms, "all-platforms", false, "pull every platform of multi-platform images")
	f.StringVarP(&flags.file, "file", "f", "", "file of image references, one a line; # starts a comment")
	f.IntVar(&flags.concurrency, "concurrency", defaultWarmConcurrency, "images pulled at the same time")
	return cmd
}

func runWarm(ctx context.Context, out io.Writer, flags warmFlags, args []string) error {
	names := append([]string(nil), args...)
	if flags.file != "" {
		fromFile, err := readImageList(flags.file)
		if err != nil {
			return err
		}
		names = append(names, fromFile...)
	}
	if len(names) == 0 {
		return errors.New("no image given: name images as arguments or in a file with -f")
	}
	if flags.concurrency < 1 {
		return fmt.Errorf("--concurrency %d: must be at least 1", flags.concurrency)
	}
	if flags.allPlatforms && len(flags.platforms) > 0 {
		return errors.New("--platform and --all-platforms exclude each other")
	}
	matcher, err := newPlatformMatcher(flags)
	if err != nil {
		return err
	}
	targets := make([]warmTarget, 0, len(names))
	for _, name := range names {
		t, err := parseWarmTarget(name)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}

	auth, err := loadMirrorCredentials(ctx, flags.mirror)
	if err != nil {
		return err
	}
	w := &warmer{
		mirror:   strings.TrimSuffix(flags.mirror, "/"),
		client:   &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DisableCompression: true}},
		platform: matcher,
		auth:     auth,
	}
	board := newProgressBoard(out, isTerminal(out))
	results := warmAll(ctx, w, targets, board, flags.concurrency)
	board.close()
	return printWarmSummary(out, results)
}

func newPlatformMatcher(flags warmFlags) (platformMatcher, error) {
	if flags.allPlatforms {
		return platformMatcher{all: true}, nil
	}
	if len(flags.platforms) == 0 {
		return platformMatcher{platforms: []v1.Platform{{OS: runtime.GOOS, Architecture: runtime.GOARCH}}}, nil
	}
	var m platformMatcher
	for _, s := range flags.platforms {
		p, err := parsePlatform(s)
		if err != nil {
			return m, err
		}
		m.platforms = append(m.platforms, p)
	}
	return m, nil
}

// readImageList reads image references, one a line, skipping blank lines
// and # comments.
func readImageList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read image list: %w", err)
	}
	defer f.Close()

	var names []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line, _, _ := strings.Cut(scanner.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			names = append(names, line)
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read image list %s: %w", path, err)
	}
	return names, nil
}

type warmOutcome struct {
	target  warmTarget
	result  warmResult
	err     error
	elapsed time.Duration
}

// warmAll pulls the targets, at most concurrency at a time, and returns
// their outcomes in the order given.
func warmAll(ctx context.Context, w *warmer, targets []warmTarget, board *progressBoard, concurrency int) []warmOutcome {
	outcomes := make([]warmOutcome, len(targets))
	states := make([]*imageState, len(targets))
	for i, t := range targets {
		states[i] = board.add(t.name)
	}

	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			start := time.Now()
			res, err := w.pull(ctx, t, states[i])
			states[i].finish(res, err)
			outcomes[i] = warmOutcome{target: t, result: res, err: err, elapsed: time.Since(start)}
		}()
	}
	wg.Wait()
	return outcomes
}

// printWarmSummary prints the totals and the failed images, and returns an
// error when any failed.
func printWarmSummary(out io.Writer, outcomes []warmOutcome) error {
	var total warmResult
	var failed []warmOutcome
	for _, o := range outcomes {
		total.manifests += o.result.manifests
		total.layers += o.result.layers
		total.bytes += o.result.bytes
		total.upstreamPulls += o.result.upstreamPulls
		if o.err != nil {
			failed = append(failed, o)
		}
	}
	fmt.Fprintf(out, "warmed %d of %d images: %s, %s, %s; upstream pulls spent: %d\n",
		len(outcomes)-len(failed), len(outcomes), plural(total.manifests, "manifest", "manifests"),
		plural(total.layers, "layer", "layers"), bytesText(total.bytes), total.upstreamPulls)
	if len(failed) == 0 {
		return nil
	}
	fmt.Fprintf(out, "failed images:\n")
	for _, o := range failed {
		fmt.Fprintf(out, "  %s: %v\n", o.target.name, o.err)
	}
	return fmt.Errorf("%d of %d images failed", len(failed), len(outcomes))
}

// isTerminal reports whether out is a character device, such as a
// terminal, and TERM does not ask for plain output.
func isTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

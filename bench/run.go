package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Options configures one run of the harness.
type Options struct {
	OutDir    string
	Smoke     bool
	Registry  string // docker-registry binary; empty skips the reference mirror
	Workloads string // comma-separated workload names
	KeepDir   bool   // keep the scratch directory (stores, configs and server logs)
	Logger    *slog.Logger
}

// Sizes are the workload sizes of one mode.
type Sizes struct {
	BurstBuilds      int
	BurstConcurrency int
	BuilderLayer     int64 // layer of the single-arch builder image in the CI burst
	CoalesceClients  int
	CoalesceBlob     int64
	SmallBlob        int64
	LargeBlob        int64
	SmallLevels      []int // concurrency levels of small-blob GETs
	LargeLevels      []int // concurrency levels of large-blob GETs
	LevelDuration    time.Duration
	ManifestConc     int
	StormPulls       int
	GrowthCounts     []int
	ReferenceGrowth  int // stored manifests of the reference mirror's growth run
	GrowthRequests   int
}

func sizesFor(smoke bool) Sizes {
	if smoke {
		return Sizes{
			BurstBuilds: 6, BurstConcurrency: 3, BuilderLayer: 256 << 10,
			CoalesceClients: 4, CoalesceBlob: 4 << 20,
			SmallBlob: 16 << 10, LargeBlob: 2 << 20,
			SmallLevels: []int{1, 4}, LargeLevels: []int{1, 2},
			LevelDuration: 200 * time.Millisecond, ManifestConc: 4,
			StormPulls:   10,
			GrowthCounts: []int{20, 100}, ReferenceGrowth: 20, GrowthRequests: 50,
		}
	}
	return Sizes{
		BurstBuilds: 50, BurstConcurrency: 10, BuilderLayer: 8 << 20,
		CoalesceClients: 32, CoalesceBlob: 256 << 20,
		SmallBlob: 16 << 10, LargeBlob: 64 << 20,
		SmallLevels: []int{1, 4, 16, 64, 256}, LargeLevels: []int{1, 8},
		LevelDuration: 5 * time.Second, ManifestConc: 16,
		StormPulls:   100,
		GrowthCounts: []int{1000, 10000, 100000}, ReferenceGrowth: 1000, GrowthRequests: 5000,
	}
}

// Env is the state every workload shares: the built binaries, a scratch
// directory and the sizes.
type Env struct {
	Sizes     Sizes
	Scratch   string
	Pullcache string // built pullcache binary
	Static    string // built static file server binary
	Registry  string // docker-registry binary, or "" without the reference
	Log       *slog.Logger
}

// Run builds the binaries, runs the selected workloads and writes the
// results. It returns the results even when writing them failed.
func Run(ctx context.Context, opts Options) (*Results, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	scratch, err := os.MkdirTemp("", "pullcache-bench-")
	if err != nil {
		return nil, fmt.Errorf("create scratch directory: %w", err)
	}
	if opts.KeepDir {
		opts.Logger.Info("keeping scratch directory", "dir", scratch)
	} else {
		defer os.RemoveAll(scratch)
	}

	env := &Env{Sizes: sizesFor(opts.Smoke), Scratch: scratch, Registry: opts.Registry, Log: opts.Logger}
	if env.Registry != "" {
		if _, err := os.Stat(env.Registry); err != nil {
			return nil, fmt.Errorf("reference mirror binary: %w (install Debian's docker-registry, or pass -registry '')", err)
		}
	}
	if err := env.build(ctx); err != nil {
		return nil, err
	}

	res := &Results{Mode: "full", Machine: describeMachine(), Started: time.Now().UTC()}
	if opts.Smoke {
		res.Mode = "smoke"
	}
	res.LoadBefore = loadAverage()

	workloads := map[string]func(context.Context, *Env, *Results) error{
		"burst":    runBurst,
		"coalesce": runCoalesce,
		"warm":     runWarm,
		"storm":    runStorm,
		"growth":   runGrowth,
	}
	for _, name := range strings.Split(opts.Workloads, ",") {
		name = strings.TrimSpace(name)
		fn, ok := workloads[name]
		if !ok {
			return nil, fmt.Errorf("unknown workload %q (want burst, coalesce, warm, storm or growth)", name)
		}
		start := time.Now()
		opts.Logger.Info("workload started", "workload", name)
		if err := fn(ctx, env, res); err != nil {
			return res, fmt.Errorf("workload %s: %w", name, err)
		}
		opts.Logger.Info("workload done", "workload", name, "seconds", time.Since(start).Seconds())
	}

	res.LoadAfter = loadAverage()
	res.Duration = time.Since(res.Started).Round(time.Second).String()
	res.evaluateTargets()
	if err := res.write(opts.OutDir); err != nil {
		return res, err
	}
	return res, nil
}

// build compiles pullcache and the static file server into the scratch
// directory.
func (e *Env) build(ctx context.Context) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	e.Pullcache = filepath.Join(e.Scratch, "pullcache")
	e.Static = filepath.Join(e.Scratch, "staticserver")
	for _, b := range []struct{ out, pkg string }{
		{e.Pullcache, "github.com/pullcache/pullcache/cmd/pullcache"},
		{e.Static, "github.com/pullcache/pullcache/bench/staticserver"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w\n%s", b.pkg, err, out)
		}
	}
	return nil
}

// moduleRoot returns the directory of pullcache's go.mod, looking up from
// the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/pullcache/pullcache\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("pullcache's go.mod not found above the working directory; run the harness from the repository")
		}
		dir = parent
	}
}

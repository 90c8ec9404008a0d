package main

import (
	"context"
	"fmt"
	"path/filepath"
)

// target is one server a workload measures, started only when its turn
// comes so that no two targets run at the same time.
type target struct {
	name  string
	start func() (*Server, error)
}

// pullcacheTarget returns the target label, which starts pullcache in front
// of up as process name, with its data in dataDir under the scratch
// directory.
func (e *Env) pullcacheTarget(ctx context.Context, up *Upstream, label, name, dataDir, tagTTL string) target {
	return target{label, func() (*Server, error) {
		return e.startPullcache(ctx, name, filepath.Join(e.Scratch, dataDir), up.URL, tagTTL)
	}}
}

// compareTargets returns the given pullcache targets followed by the
// docker-registry proxy, when one is configured, and by upstream directly.
// The registry runs as process workload-registry with its data in
// workload-reg-data under the scratch directory.
func (e *Env) compareTargets(ctx context.Context, up *Upstream, workload string, pullcache ...target) []target {
	targets := pullcache
	if e.Registry != "" {
		targets = append(targets, target{"docker-registry proxy", func() (*Server, error) {
			return e.startRegistry(ctx, workload+"-registry", filepath.Join(e.Scratch, workload+"-reg-data"), up.URL)
		}})
	}
	return append(targets, target{"upstream directly", func() (*Server, error) {
		return &Server{Name: "upstream", URL: up.URL}, nil
	}})
}

// runTargets starts each target in turn, runs body against it and stops it
// before the next one starts. An error from body is returned with the
// target's name, and the remaining targets are skipped.
func runTargets(targets []target, body func(name string, srv *Server) error) error {
	for _, t := range targets {
		srv, err := t.start()
		if err != nil {
			return err
		}
		err = body(t.name, srv)
		srv.Stop()
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

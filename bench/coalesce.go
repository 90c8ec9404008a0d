package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// CoalesceRow is one cold blob requested by many clients at once.
type CoalesceRow struct {
	Target         string  `json:"target"`
	Clients        int     `json:"clients"`
	BlobBytes      int64   `json:"blobBytes"`
	Succeeded      int     `json:"succeeded"`
	UpstreamGets   int     `json:"upstreamBlobGets"`
	UpstreamBytes  int64   `json:"upstreamBytes"`
	AllDoneSeconds float64 `json:"allDoneSeconds"`
	PeakRSSBytes   int64   `json:"peakRSSBytes"`
}

func runCoalesce(ctx context.Context, e *Env, res *Results) error {
	up, err := startUpstream()
	if err != nil {
		return err
	}
	defer up.Close()
	std := up.SeedStandard(e.Sizes.CoalesceBlob)

	type target struct {
		name  string
		start func() (*Server, error)
	}
	targets := []target{{"pullcache", func() (*Server, error) {
		return e.startPullcache(ctx, "coalesce-pullcache", filepath.Join(e.Scratch, "coalesce-pc-data"), up.URL, "5m")
	}}}
	if e.Registry != "" {
		targets = append(targets, target{"docker-registry proxy", func() (*Server, error) {
			return e.startRegistry(ctx, "coalesce-registry", filepath.Join(e.Scratch, "coalesce-reg-data"), up.URL)
		}})
	}
	targets = append(targets, target{"upstream directly", func() (*Server, error) {
		return &Server{Name: "upstream", URL: up.URL}, nil
	}})

	for _, t := range targets {
		srv, err := t.start()
		if err != nil {
			return err
		}
		row, err := coalesceOnce(ctx, e, up, std, srv)
		srv.Stop()
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		row.Target = t.name
		res.Coalesce = append(res.Coalesce, row)
		e.Log.Info("coalesce", "target", t.name, "upstream_gets", row.UpstreamGets, "seconds", row.AllDoneSeconds)
	}
	return nil
}

// coalesceOnce starts every client at the same moment on the uncached
// large layer and waits for the last byte of the last one. Only the first
// client verifies the digest: hashing every copy would load the CPU that
// the servers share with the clients.
func coalesceOnce(ctx context.Context, e *Env, up *Upstream, std hubsim.Standard, srv *Server) (CoalesceRow, error) {
	clients := e.Sizes.CoalesceClients
	layer := std.Big.Layers[0]
	client := newClient(srv.URL, clients)
	defer client.Close()

	// A HEAD first gets the token a direct client needs, so that the
	// counters below hold only the blob transfers.
	if resp, err := client.get(ctx, http.MethodHead, hubsim.BigRepo, "blobs", layer.Digest.String()); err == nil {
		resp.Body.Close()
	}
	up.ResetStats()
	bytesBefore := up.BytesSent()
	srv.ResetPeakMemory()

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		succeeded int
		firstErr  error
	)
	gate := make(chan struct{})
	start := time.Now()
	for i := range clients {
		wg.Go(func() {
			<-gate
			n, err := client.getBlob(ctx, hubsim.BigRepo, layer.Digest, i == 0)
			mu.Lock()
			defer mu.Unlock()
			if err == nil && n == layer.Size {
				succeeded++
			} else if firstErr == nil {
				firstErr = fmt.Errorf("client %d: %d bytes: %v", i, n, err)
			}
		})
	}
	close(gate)
	wg.Wait()
	elapsed := time.Since(start)

	if succeeded < clients {
		e.Log.Warn("coalesce: some clients failed", "target", srv.Name, "failed", clients-succeeded, "first", firstErr)
	}
	st := up.Stats()
	return CoalesceRow{
		Clients:        clients,
		BlobBytes:      layer.Size,
		Succeeded:      succeeded,
		UpstreamGets:   st.BlobGets,
		UpstreamBytes:  up.BytesSent() - bytesBefore,
		AllDoneSeconds: elapsed.Seconds(),
		PeakRSSBytes:   srv.PeakMemory(),
	}, nil
}

package main

import (
	"context"
	"fmt"
	"net/http"
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

	targets := e.compareTargets(ctx, up, "coalesce",
		e.pullcacheTarget(ctx, up, "pullcache", "coalesce-pullcache", "coalesce-pc-data", "5m"),
	)
	return runTargets(targets, func(name string, srv *Server) error {
		row, err := coalesceOnce(ctx, e, up, std, srv)
		if err != nil {
			return err
		}
		row.Target = name
		res.Coalesce = append(res.Coalesce, row)
		e.Log.Info("coalesce", "target", name, "upstream_gets", row.UpstreamGets, "seconds", row.AllDoneSeconds)
		return nil
	})
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

package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// Upstream is hubsim on a loopback listener that counts the bytes it sends.
type Upstream struct {
	*hubsim.Hub
	URL string

	sent atomic.Int64
	srv  *http.Server
}

// startUpstream starts a hub without a pull limit (the workloads that are
// about quota read its counters instead), with the token service on the
// registry's own listener and blobs served without a CDN redirect.
func startUpstream() (*Upstream, error) {
	hub := hubsim.New(hubsim.Options{NoRateLimitHeaders: true})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for hubsim: %w", err)
	}
	u := &Upstream{Hub: hub, URL: "http://" + l.Addr().String()}
	u.srv = &http.Server{Handler: hub.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go u.srv.Serve(&countingListener{Listener: l, sent: &u.sent})
	return u, nil
}

// BytesSent returns the bytes the hub has written to all connections,
// headers included.
func (u *Upstream) BytesSent() int64 { return u.sent.Load() }

// Close stops the listener and the hub.
func (u *Upstream) Close() {
	u.srv.Close()
	u.Hub.Close()
}

type countingListener struct {
	net.Listener
	sent *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, sent: l.sent}, nil
}

type countingConn struct {
	net.Conn
	sent *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.sent.Add(int64(n))
	return n, err
}

// putImage stores a linux/amd64 Docker schema 2 image in repo:tag with one
// layer of the given bytes and returns the manifest digest. Layers are
// random bytes, which registries treat as opaque like any gzip'd tar.
func putImage(hub *hubsim.Hub, repo, tag string, layer []byte, label string) (digest.Digest, error) {
	layerDigest := hub.PutBlob(layer)
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Labels": map[string]string{"bench": label}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDigest.String()}},
	})
	if err != nil {
		return "", fmt.Errorf("encode config of %s:%s: %w", repo, tag, err)
	}
	configDigest := hub.PutBlob(config)

	manifest, err := json.Marshal(v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: hubsim.MediaTypeDockerManifest,
		Config:    v1.Descriptor{MediaType: hubsim.MediaTypeDockerConfig, Digest: configDigest, Size: int64(len(config))},
		Layers:    []v1.Descriptor{{MediaType: hubsim.MediaTypeDockerLayer, Digest: layerDigest, Size: int64(len(layer))}},
	})
	if err != nil {
		return "", fmt.Errorf("encode manifest of %s:%s: %w", repo, tag, err)
	}
	return hub.PutManifest(repo, tag, hubsim.MediaTypeDockerManifest, manifest), nil
}

func randomBytes(n int64) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// manifestAccept is the Accept header of docker and containerd: every
// manifest type.
var manifestAccept = strings.Join([]string{
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
}, ", ")

// Client is a minimal pull client: anonymous bearer tokens per repository,
// manifest and blob GETs, and a platform choice in indexes.
type Client struct {
	base string
	hc   *http.Client

	mu     sync.Mutex
	tokens map[string]string // repository → bearer token
}

func newClient(base string, conns int) *Client {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	return &Client{base: base, hc: &http.Client{Transport: tr, Timeout: 5 * time.Minute}, tokens: map[string]string{}}
}

func (c *Client) Close() { c.hc.CloseIdleConnections() }

// get sends method to /v2/<repo>/<kind>/<ref> and follows one bearer
// challenge. The caller closes the body.
func (c *Client) get(ctx context.Context, method, repo, kind, ref string) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, c.base+"/v2/"+repo+"/"+kind+"/"+ref, nil)
		if err != nil {
			return nil, err
		}
		if kind == "manifests" {
			req.Header.Set("Accept", manifestAccept)
		}
		c.mu.Lock()
		token := c.tokens[repo]
		c.mu.Unlock()
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}

		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, nil
		}
		challenge := resp.Header.Get("WWW-Authenticate")
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err := c.fetchToken(ctx, repo, challenge); err != nil {
			return nil, err
		}
	}
}

// fetchToken gets an anonymous token from the realm of a Bearer challenge.
func (c *Client) fetchToken(ctx context.Context, repo, challenge string) error {
	params := map[string]string{}
	rest, ok := strings.CutPrefix(challenge, "Bearer ")
	if !ok {
		return fmt.Errorf("unexpected challenge %q", challenge)
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		params[k] = strings.Trim(v, `"`)
	}

	q := url.Values{"service": {params["service"]}, "scope": {"repository:" + repo + ":pull"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, params["realm"]+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("get token: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get token: status %d", resp.StatusCode)
	}

	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("decode token: %w", err)
	}
	c.mu.Lock()
	c.tokens[repo] = body.Token
	c.mu.Unlock()
	return nil
}

// getManifest returns the body and media type of a manifest.
func (c *Client) getManifest(ctx context.Context, repo, ref string) ([]byte, string, error) {
	resp, err := c.get(ctx, http.MethodGet, repo, "manifests", ref)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, "", fmt.Errorf("read manifest %s:%s: %w", repo, ref, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("manifest %s:%s: status %d: %s", repo, ref, resp.StatusCode, tail(string(body), 200))
	}
	return body, resp.Header.Get("Content-Type"), nil
}

// getBlob reads a blob to the end and returns its length. With verify it
// also checks the digest.
func (c *Client) getBlob(ctx context.Context, repo string, d digest.Digest, verify bool) (int64, error) {
	resp, err := c.get(ctx, http.MethodGet, repo, "blobs", d.String())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return 0, fmt.Errorf("blob %s: status %d", d, resp.StatusCode)
	}

	var w io.Writer = io.Discard
	h := sha256.New()
	if verify {
		w = h
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("read blob %s: %w", d, err)
	}
	if verify && "sha256:"+hex.EncodeToString(h.Sum(nil)) != d.String() {
		return n, fmt.Errorf("blob %s: digest mismatch", d)
	}
	return n, nil
}

// PullResult is one image pull as a container runtime does it.
type PullResult struct {
	ManifestDigest  digest.Digest // of the manifest the tag named
	ManifestLatency []time.Duration
	Bytes           int64
}

// pull fetches repo:tag like docker pull on linux/amd64: the tag's manifest,
// the platform's manifest from an index, the config and the layers, each
// blob verified against its digest.
func (c *Client) pull(ctx context.Context, repo, tag string) (PullResult, error) {
	var res PullResult
	start := time.Now()
	body, mediaType, err := c.getManifest(ctx, repo, tag)
	if err != nil {
		return res, err
	}
	res.ManifestLatency = append(res.ManifestLatency, time.Since(start))
	res.ManifestDigest = digest.FromBytes(body)

	var m struct {
		MediaType string `json:"mediaType"`
		Manifests []struct {
			Digest   digest.Digest `json:"digest"`
			Platform struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
			} `json:"platform"`
		} `json:"manifests"`
		Config struct {
			Digest digest.Digest `json:"digest"`
		} `json:"config"`
		Layers []struct {
			Digest digest.Digest `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return res, fmt.Errorf("decode manifest %s:%s (%s): %w", repo, tag, mediaType, err)
	}
	if len(m.Manifests) > 0 {
		var child digest.Digest
		for _, desc := range m.Manifests {
			if desc.Platform.OS == "linux" && desc.Platform.Architecture == "amd64" {
				child = desc.Digest
			}
		}
		if child == "" {
			return res, fmt.Errorf("index %s:%s has no linux/amd64 manifest", repo, tag)
		}
		start = time.Now()
		body, _, err = c.getManifest(ctx, repo, child.String())
		if err != nil {
			return res, err
		}
		res.ManifestLatency = append(res.ManifestLatency, time.Since(start))
		if digest.FromBytes(body) != child {
			return res, fmt.Errorf("manifest %s@%s: digest mismatch", repo, child)
		}
		if err := json.Unmarshal(body, &m); err != nil {
			return res, fmt.Errorf("decode manifest %s@%s: %w", repo, child, err)
		}
	}

	blobs := []digest.Digest{m.Config.Digest}
	for _, l := range m.Layers {
		blobs = append(blobs, l.Digest)
	}
	for _, d := range blobs {
		n, err := c.getBlob(ctx, repo, d, true)
		res.Bytes += n
		if err != nil {
			return res, fmt.Errorf("pull %s:%s: %w", repo, tag, err)
		}
	}
	return res, nil
}

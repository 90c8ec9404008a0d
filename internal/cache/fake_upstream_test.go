package cache

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullcache/pullcache/internal/upstream"
)

// fakeUpstream replaces a registry client so that tests can script
// responses and inject faults per method. End-to-end tests use the real
// client against the Docker Hub stand-in instead.
type fakeUpstream struct {
	name string

	mu        sync.Mutex
	manifests map[string]upstream.Manifest // "repo:tag" and "repo@digest"
	blobs     map[digest.Digest][]byte
	calls     map[string]int // "HeadManifest", "GetManifest", "GetBlob", ...
	errs      map[string]error
	noDigest  bool // HeadManifest omits the digest, as some registries do
	rateLimit *upstream.RateLimit

	// blobGate, when set, holds every GetBlob body until it is closed.
	blobGate chan struct{}
	// corrupt and truncate change what GetBlob sends.
	corrupt, truncate bool
}

func newFakeUpstream(name string) *fakeUpstream {
	return &fakeUpstream{
		name:      name,
		manifests: make(map[string]upstream.Manifest),
		blobs:     make(map[digest.Digest][]byte),
		calls:     make(map[string]int),
		errs:      make(map[string]error),
	}
}

func (f *fakeUpstream) putManifest(repo, tag, mediaType string, body []byte) digest.Digest {
	f.mu.Lock()
	defer f.mu.Unlock()

	d := digest.FromBytes(body)
	m := upstream.Manifest{Descriptor: upstream.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(body))}, Body: body}
	f.manifests[repo+"@"+d.String()] = m
	if tag != "" {
		f.manifests[repo+":"+tag] = m
	}
	return d
}

func (f *fakeUpstream) putBlob(data []byte) digest.Digest {
	f.mu.Lock()
	defer f.mu.Unlock()

	d := digest.FromBytes(data)
	f.blobs[d] = data
	return d
}

func (f *fakeUpstream) setErr(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.errs, method)
		return
	}
	f.errs[method] = err
}

func (f *fakeUpstream) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// enter counts a call and returns the injected error for the method.
func (f *fakeUpstream) enter(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	return f.errs[method]
}

func (f *fakeUpstream) notFound() error {
	return &upstream.Error{Upstream: f.name, Kind: upstream.KindNotFound, Status: 404, Code: "MANIFEST_UNKNOWN"}
}

func (f *fakeUpstream) lookup(repo, ref string) (upstream.Manifest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sep := ":"
	if _, err := digest.Parse(ref); err == nil {
		sep = "@"
	}
	m, ok := f.manifests[repo+sep+ref]
	return m, ok
}

func (f *fakeUpstream) Name() string { return f.name }

func (f *fakeUpstream) HeadManifest(ctx context.Context, repo, ref string) (upstream.Descriptor, error) {
	if err := f.enter("HeadManifest"); err != nil {
		return upstream.Descriptor{}, err
	}
	m, ok := f.lookup(repo, ref)
	if !ok {
		return upstream.Descriptor{}, f.notFound()
	}
	desc := m.Descriptor
	if f.noDigest {
		desc.Digest = ""
	}
	return desc, nil
}

func (f *fakeUpstream) GetManifest(ctx context.Context, repo, ref string) (upstream.Manifest, error) {
	if err := f.enter("GetManifest"); err != nil {
		return upstream.Manifest{}, err
	}
	m, ok := f.lookup(repo, ref)
	if !ok {
		return upstream.Manifest{}, f.notFound()
	}
	return m, nil
}

func (f *fakeUpstream) GetBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	if err := f.enter("GetBlob"); err != nil {
		return nil, 0, err
	}
	f.mu.Lock()
	data, ok := f.blobs[d]
	gate, corrupt, truncate := f.blobGate, f.corrupt, f.truncate
	f.mu.Unlock()
	if !ok {
		return nil, 0, &upstream.Error{Upstream: f.name, Kind: upstream.KindNotFound, Status: 404, Code: "BLOB_UNKNOWN"}
	}

	size := int64(len(data))
	body := data
	if corrupt {
		body = bytes.Clone(data)
		body[len(body)/2] ^= 0xff
	}
	if truncate {
		body = data[:len(data)/2]
	}
	return &gatedReader{gate: gate, r: bytes.NewReader(body), truncated: truncate}, size, nil
}

func (f *fakeUpstream) HeadBlob(ctx context.Context, repo string, d digest.Digest) (upstream.Descriptor, error) {
	if err := f.enter("HeadBlob"); err != nil {
		return upstream.Descriptor{}, err
	}
	f.mu.Lock()
	data, ok := f.blobs[d]
	f.mu.Unlock()
	if !ok {
		return upstream.Descriptor{}, &upstream.Error{Upstream: f.name, Kind: upstream.KindNotFound, Status: 404}
	}
	return upstream.Descriptor{Digest: d, Size: int64(len(data)), MediaType: "application/octet-stream"}, nil
}

func (f *fakeUpstream) GetReferrers(ctx context.Context, repo string, d digest.Digest, artifactType string) (upstream.Manifest, error) {
	if err := f.enter("GetReferrers"); err != nil {
		return upstream.Manifest{}, err
	}
	return upstream.Manifest{}, &upstream.Error{Upstream: f.name, Kind: upstream.KindNotFound, Status: 404}
}

func (f *fakeUpstream) ListTags(ctx context.Context, repo, rawQuery string) ([]byte, string, error) {
	if err := f.enter("ListTags"); err != nil {
		return nil, "", err
	}
	return []byte(`{"name":"` + repo + `","tags":["upstream"]}`), "", nil
}

func (f *fakeUpstream) RateLimit() (upstream.RateLimit, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rateLimit == nil {
		return upstream.RateLimit{}, false
	}
	return *f.rateLimit, true
}

// gatedReader waits for its gate before the first byte and reports a cut
// transfer as io.ErrUnexpectedEOF, as the real client does.
type gatedReader struct {
	gate      chan struct{}
	r         *bytes.Reader
	truncated bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-time.After(10 * time.Second):
			return 0, io.ErrUnexpectedEOF
		}
	}
	n, err := g.r.Read(p)
	if err == io.EOF && g.truncated {
		return n, &upstream.Error{Kind: upstream.KindUnavailable, Err: io.ErrUnexpectedEOF}
	}
	return n, err
}

func (g *gatedReader) Close() error { return nil }

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pullcache/pullcache/internal/hubsim"
)

// httpTimeout bounds one raw request to the mirror.
const httpTimeout = 30 * time.Second

// newHTTPClient returns a client that ignores proxy settings, since every
// request goes to loopback.
func newHTTPClient(t *testing.T) *http.Client {
	transport := &http.Transport{Proxy: nil, DisableCompression: true}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Timeout: httpTimeout, Transport: transport}
}

// rawResponse is a response with its whole body read.
type rawResponse struct {
	status  int
	header  http.Header
	body    []byte
	readErr error
}

// request sends one request to the mirror's /v2/ API and reads the whole
// response body. A transport failure fails the test, but a body that ends
// in an error is reported in readErr.
func (m *mirror) request(t *testing.T, method, path, accept string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, m.url()+"/v2/"+path, nil)
	if err != nil {
		t.Fatalf("build request %s %s: %v", method, path, err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := newHTTPClient(t).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()

	body, readErr := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: body, readErr: readErr}
}

// getManifest GETs repo's manifest ref with an Accept header that lists
// every manifest and index type.
func (m *mirror) getManifest(t *testing.T, repo, ref string) rawResponse {
	t.Helper()
	return m.request(t, http.MethodGet, repo+"/manifests/"+ref, hubsim.AllManifestTypes)
}

// registryError is the first entry of an OCI error body.
type registryError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// firstError decodes the first entry of an OCI error body.
func firstError(t *testing.T, body []byte) registryError {
	t.Helper()
	var decoded struct {
		Errors []registryError `json:"errors"`
	}
	if err := json.Unmarshal(body, &decoded); err != nil {
		t.Fatalf("decode error body %q: %v", body, err)
	}
	if len(decoded.Errors) == 0 {
		t.Fatalf("error body %q has no errors", body)
	}
	return decoded.Errors[0]
}

// fileDigest returns the sha256 digest of a file's bytes.
func fileDigest(t *testing.T, path string) digest.Digest {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	digester := digest.SHA256.Digester()
	if _, err := io.Copy(digester.Hash(), f); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return digester.Digest()
}

// ociLayout is an OCI image layout directory written by a client.
type ociLayout struct {
	dir string
}

// blobPath returns the path of a blob in the layout.
func (l ociLayout) blobPath(d digest.Digest) string {
	return filepath.Join(l.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

// index returns the layout's index.json.
func (l ociLayout) index(t *testing.T) v1.Index {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(l.dir, "index.json"))
	if err != nil {
		t.Fatalf("read the layout's index.json: %v", err)
	}
	var index v1.Index
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatalf("decode the layout's index.json: %v", err)
	}
	return index
}

// topManifest returns the one manifest that the layout's index.json lists:
// the image or index a client pulled.
func (l ociLayout) topManifest(t *testing.T) v1.Descriptor {
	t.Helper()
	index := l.index(t)
	if len(index.Manifests) != 1 {
		t.Fatalf("the layout's index.json lists %d manifests, want 1 (the pulled image or index)", len(index.Manifests))
	}
	return index.Manifests[0]
}

// checkBlobsVerify checks that every blob file in the layout hashes to its
// file name, so that no blob contains bytes other than its digest names.
func (l ociLayout) checkBlobsVerify(t *testing.T) {
	t.Helper()
	dir := filepath.Join(l.dir, "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("list the layout's blobs: %v", err)
	}
	for _, entry := range entries {
		want := digest.NewDigestFromEncoded(digest.SHA256, entry.Name())
		if got := fileDigest(t, filepath.Join(dir, entry.Name())); got != want {
			t.Errorf("layout blob %s contains bytes with digest %s", want, got)
		}
	}
}

// hasBlob reports whether the layout contains a blob with digest d. The file
// name is its digest, and checkBlobsVerify checks that the bytes match it.
func (l ociLayout) hasBlob(d digest.Digest) bool {
	info, err := os.Stat(l.blobPath(d))
	return err == nil && info.Mode().IsRegular()
}

// checkLayersPresent checks that every blob in the layout verifies and
// that it contains every layer of want's images. A client that converts
// manifests to another media type changes the manifest digests, but never
// the layers.
func (l ociLayout) checkLayersPresent(t *testing.T, want hubsim.Index) {
	t.Helper()
	l.checkBlobsVerify(t)
	for _, image := range want.Images {
		for _, layer := range image.Layers {
			if !l.hasBlob(layer.Digest) {
				t.Errorf("the layout has no %s layer %s", image.Platform.Architecture, layer.Digest)
			}
		}
	}
}

// checkIndexPreserved checks that the layout contains want's index manifest,
// every child manifest, config and layer with the digests hubsim serves,
// and that the layout's index.json names the index by its digest.
func (l ociLayout) checkIndexPreserved(t *testing.T, want hubsim.Index) {
	t.Helper()
	l.checkBlobsVerify(t)

	top := l.topManifest(t)
	if top.Digest != want.Digest {
		t.Errorf("the layout's index.json names %s, want the hub's index digest %s", top.Digest, want.Digest)
	}
	if top.MediaType != want.MediaType {
		t.Errorf("the layout's index.json names media type %s, want the hub's %s", top.MediaType, want.MediaType)
	}
	if !l.hasBlob(want.Digest) {
		t.Errorf("the layout has no index manifest %s", want.Digest)
	}

	for _, image := range want.Images {
		if !l.hasBlob(image.Digest) {
			t.Errorf("the layout has no %s manifest %s", image.Platform.Architecture, image.Digest)
		}
		if !l.hasBlob(image.Config.Digest) {
			t.Errorf("the layout has no %s config %s", image.Platform.Architecture, image.Config.Digest)
		}
		for _, layer := range image.Layers {
			if !l.hasBlob(layer.Digest) {
				t.Errorf("the layout has no %s layer %s", image.Platform.Architecture, layer.Digest)
			}
		}
	}
}

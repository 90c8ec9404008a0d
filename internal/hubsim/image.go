package hubsim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// seedTime is the creation and modification time of all seeded content, so
// that seeding twice gives the same digests.
var seedTime = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

// Image is a single-platform image stored in the hub.
type Image struct {
	Repo      string
	Tag       string // empty when the image is reachable by digest only
	MediaType string
	Digest    digest.Digest
	Size      int64
	Platform  v1.Platform
	Config    v1.Descriptor
	Layers    []v1.Descriptor
}

// Index is a multi-platform image (OCI index or Docker manifest list)
// stored in the hub, with its children.
type Index struct {
	Repo      string
	Tag       string
	MediaType string
	Digest    digest.Digest
	Size      int64
	Images    []Image
}

// imageSpec describes an image to build: docker selects Docker schema 2
// media types instead of OCI ones, and files are the contents of a small
// layer unless large is set.
type imageSpec struct {
	repo, tag string
	docker    bool
	platform  v1.Platform
	files     map[string]string
	large     *synthLayer
	subject   *v1.Descriptor
}

// putImage builds the layer, config and manifest of spec, stores them and
// returns what it stored.
func (h *Hub) putImage(spec imageSpec) (Image, error) {
	layerType, configType, manifestType := v1.MediaTypeImageLayerGzip, v1.MediaTypeImageConfig, v1.MediaTypeImageManifest
	if spec.docker {
		layerType, configType, manifestType = MediaTypeDockerLayer, MediaTypeDockerConfig, MediaTypeDockerManifest
	}

	var layer v1.Descriptor
	var diffID digest.Digest
	if spec.large != nil {
		h.content.putBlobSource(spec.large.digest, spec.large)
		layer = v1.Descriptor{MediaType: layerType, Digest: spec.large.digest, Size: spec.large.size}
		diffID = spec.large.diffID
	} else {
		compressed, uncompressed, err := buildLayer(spec.files)
		if err != nil {
			return Image{}, fmt.Errorf("build layer of %s:%s: %w", spec.repo, spec.tag, err)
		}
		layer = v1.Descriptor{MediaType: layerType, Digest: h.PutBlob(compressed), Size: int64(len(compressed))}
		diffID = digest.FromBytes(uncompressed)
	}

	configJSON, err := json.Marshal(v1.Image{
		Created:  &seedTime,
		Platform: spec.platform,
		Config: v1.ImageConfig{
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd: []string{"/bin/sh"},
		},
		RootFS:  v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History: []v1.History{{Created: &seedTime, CreatedBy: "hubsim seed " + spec.repo}},
	})
	if err != nil {
		return Image{}, fmt.Errorf("encode config of %s:%s: %w", spec.repo, spec.tag, err)
	}
	config := v1.Descriptor{MediaType: configType, Digest: h.PutBlob(configJSON), Size: int64(len(configJSON))}

	manifestJSON, err := json.Marshal(v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: manifestType,
		Config:    config,
		Layers:    []v1.Descriptor{layer},
		Subject:   spec.subject,
	})
	if err != nil {
		return Image{}, fmt.Errorf("encode manifest of %s:%s: %w", spec.repo, spec.tag, err)
	}

	return Image{
		Repo:      spec.repo,
		Tag:       spec.tag,
		MediaType: manifestType,
		Digest:    h.PutManifest(spec.repo, spec.tag, manifestType, manifestJSON),
		Size:      int64(len(manifestJSON)),
		Platform:  spec.platform,
		Config:    config,
		Layers:    []v1.Descriptor{layer},
	}, nil
}

// putIndex stores an index (OCI, or a Docker manifest list when docker is
// set) of images already stored in repo, and tags it.
func (h *Hub) putIndex(repo, tag string, docker bool, images []Image) (Index, error) {
	mediaType := v1.MediaTypeImageIndex
	if docker {
		mediaType = MediaTypeDockerManifestList
	}

	index := v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: mediaType}
	for _, img := range images {
		platform := img.Platform
		index.Manifests = append(index.Manifests, v1.Descriptor{
			MediaType: img.MediaType,
			Digest:    img.Digest,
			Size:      img.Size,
			Platform:  &platform,
		})
	}

	body, err := json.Marshal(index)
	if err != nil {
		return Index{}, fmt.Errorf("encode index %s:%s: %w", repo, tag, err)
	}
	return Index{
		Repo:      repo,
		Tag:       tag,
		MediaType: mediaType,
		Digest:    h.PutManifest(repo, tag, mediaType, body),
		Size:      int64(len(body)),
		Images:    images,
	}, nil
}

// buildLayer returns a gzip'd tar of files and the tar itself, with fixed
// times so that the bytes are the same on every run.
func buildLayer(files map[string]string) (compressed, uncompressed []byte, err error) {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)

	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, name := range names {
		content := files[name]
		header := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: seedTime, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(header); err != nil {
			return nil, nil, fmt.Errorf("write tar header %s: %w", name, err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			return nil, nil, fmt.Errorf("write tar entry %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, fmt.Errorf("close tar: %w", err)
	}

	var gzBuf bytes.Buffer
	gz := gzip.NewWriter(&gzBuf)
	if _, err := gz.Write(tarBuf.Bytes()); err != nil {
		return nil, nil, fmt.Errorf("compress tar: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, nil, fmt.Errorf("compress tar: %w", err)
	}
	return gzBuf.Bytes(), tarBuf.Bytes(), nil
}

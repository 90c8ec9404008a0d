package hubsim

import (
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Repositories and tags that SeedStandard creates.
const (
	MultiArchRepo    = "library/multiarch"
	ManifestListRepo = "library/manifestlist"
	BigRepo          = "library/big"
	MovingRepo       = "library/moving"
	AlpineRepo       = "library/alpine"

	// SBOMArtifactType is the artifactType of the seeded referrer.
	SBOMArtifactType = "application/vnd.example.sbom.v1+json"
)

// largeLayerSeed fixes the bytes of the large layer, so that its digest is
// the same on every run for a given size.
const largeLayerSeed = 0x68756273696d // "hubsim"

// Standard names the content SeedStandard stored. All of it is real: gzip'd
// tar layers, config JSON with os and architecture, and manifests with
// correct sizes and digests, so that crane, skopeo or containerd can pull it.
type Standard struct {
	// MultiArch is library/multiarch:latest, an OCI index of linux/amd64
	// and linux/arm64 OCI image manifests.
	MultiArch Index
	// ManifestList is library/manifestlist:latest, a Docker manifest list of
	// linux/amd64 and linux/arm64 Docker schema 2 manifests.
	ManifestList Index
	// Big is library/big:latest, a linux/amd64 Docker schema 2 image with
	// one layer of the requested size, generated from a fixed seed.
	Big Image
	// Moving is library/moving:v1 as seeded. MovingNext is the image that
	// MoveMovingTag points v1 at, also stored as library/moving:v2.
	Moving, MovingNext Image
	// Alpine is library/alpine:3.20, a small linux/amd64 Docker schema 2
	// image, for tests of the implicit library/ prefix.
	Alpine Image
	// SBOM is an OCI artifact in library/multiarch, with artifactType
	// SBOMArtifactType, whose subject is MultiArch's linux/amd64 manifest.
	// It is stored by digest only and listed by the referrers API.
	SBOM Image

	hub *Hub
}

// SeedStandard stores the standard test images and returns their names and
// digests. The large layer of library/big has exactly largeLayerSize bytes;
// sizes under MinSyntheticLayerSize are raised to it. Seeding reads the
// large layer twice to compute its digests, and keeps none of it in memory.
func (h *Hub) SeedStandard(largeLayerSize int64) Standard {
	std, err := h.seedStandard(max(largeLayerSize, MinSyntheticLayerSize))
	if err != nil {
		// Only a bug in the seed itself can fail here: every input is fixed.
		panic(fmt.Sprintf("hubsim: seed standard content: %v", err))
	}
	return std
}

func (h *Hub) seedStandard(largeLayerSize int64) (Standard, error) {
	std := Standard{hub: h}
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}

	var err error
	std.MultiArch, err = h.seedIndex(MultiArchRepo, "latest", false, amd64, arm64)
	if err != nil {
		return Standard{}, err
	}
	std.ManifestList, err = h.seedIndex(ManifestListRepo, "latest", true, amd64, arm64)
	if err != nil {
		return Standard{}, err
	}

	large, err := newSynthLayer(largeLayerSize, largeLayerSeed)
	if err != nil {
		return Standard{}, err
	}
	std.Big, err = h.putImage(imageSpec{repo: BigRepo, tag: "latest", docker: true, platform: amd64, large: large})
	if err != nil {
		return Standard{}, err
	}

	std.MovingNext, err = h.putImage(imageSpec{repo: MovingRepo, tag: "v2", docker: true, platform: amd64,
		files: map[string]string{"etc/moving-release": "moving v2\n"}})
	if err != nil {
		return Standard{}, err
	}
	std.Moving, err = h.putImage(imageSpec{repo: MovingRepo, tag: "v1", docker: true, platform: amd64,
		files: map[string]string{"etc/moving-release": "moving v1\n"}})
	if err != nil {
		return Standard{}, err
	}

	std.Alpine, err = h.putImage(imageSpec{repo: AlpineRepo, tag: "3.20", docker: true, platform: amd64,
		files: map[string]string{"etc/os-release": "NAME=\"hubsim alpine\"\nVERSION_ID=3.20.0\n"}})
	if err != nil {
		return Standard{}, err
	}

	std.SBOM, err = h.seedSBOM(std.MultiArch.Images[0])
	if err != nil {
		return Standard{}, err
	}
	return std, nil
}

// seedIndex stores one small image per platform in repo and an index of
// them under tag.
func (h *Hub) seedIndex(repo, tag string, docker bool, platforms ...v1.Platform) (Index, error) {
	var images []Image
	for _, platform := range platforms {
		img, err := h.putImage(imageSpec{repo: repo, docker: docker, platform: platform,
			files: map[string]string{"etc/hubsim-release": repo + " " + platform.OS + "/" + platform.Architecture + "\n"}})
		if err != nil {
			return Index{}, err
		}
		images = append(images, img)
	}
	return h.putIndex(repo, tag, docker, images)
}

// seedSBOM stores an OCI artifact whose subject is img, following the OCI
// image-spec 1.1 artifact guidance: an empty config and artifactType set.
func (h *Hub) seedSBOM(img Image) (Image, error) {
	empty := []byte("{}")
	config := v1.Descriptor{MediaType: v1.MediaTypeEmptyJSON, Digest: h.PutBlob(empty), Size: int64(len(empty))}

	document := []byte(`{"sbom":"hubsim","subject":"` + img.Digest.String() + `"}`)
	layer := v1.Descriptor{MediaType: SBOMArtifactType, Digest: h.PutBlob(document), Size: int64(len(document))}

	subject := v1.Descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: img.Size}
	body, err := json.Marshal(v1.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    v1.MediaTypeImageManifest,
		ArtifactType: SBOMArtifactType,
		Config:       config,
		Layers:       []v1.Descriptor{layer},
		Subject:      &subject,
		Annotations:  map[string]string{v1.AnnotationCreated: seedTime.Format("2006-01-02T15:04:05Z")},
	})
	if err != nil {
		return Image{}, fmt.Errorf("encode SBOM artifact for %s: %w", img.Digest, err)
	}

	return Image{
		Repo:      img.Repo,
		MediaType: v1.MediaTypeImageManifest,
		Digest:    h.PutManifest(img.Repo, "", v1.MediaTypeImageManifest, body),
		Size:      int64(len(body)),
		Config:    config,
		Layers:    []v1.Descriptor{layer},
	}, nil
}

// MoveMovingTag points library/moving:v1 at the other seeded image: at
// MovingNext the first time, back at Moving the next, and so on. It returns
// the digest v1 now names. It returns an error only when library/moving was
// deleted.
func (s Standard) MoveMovingTag() (digest.Digest, error) {
	target := s.MovingNext.Digest
	if current, err := s.hub.content.manifest(MovingRepo, "v1"); err == nil && current.digest == s.MovingNext.Digest {
		target = s.Moving.Digest
	}

	if err := s.hub.MoveTag(MovingRepo, "v1", target); err != nil {
		return "", err
	}
	return target, nil
}

package main

import (
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// refNameAnnotation is the OCI layout key that names a tag, which
// skopeo's oci:DIR:TAG and crane's layout tools look up.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// writeOCILayout writes one image index with every platform into a new
// OCI image layout at dir, tagged version.
func writeOCILayout(dir, version string, images []platformImage) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("--oci-layout %s already exists; remove it first", dir)
	}

	index := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, pi := range images {
		platform := pi.platform
		index = mutate.AppendManifests(index, mutate.IndexAddendum{
			Add:        pi.image,
			Descriptor: v1.Descriptor{Platform: &platform},
		})
	}

	path, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("create OCI layout %s: %w", dir, err)
	}
	if err := path.AppendIndex(index, layout.WithAnnotations(map[string]string{refNameAnnotation: version})); err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dir, err)
	}
	return nil
}

// writeDockerArchive writes img as a docker-archive tarball named tag.
func writeDockerArchive(file, tag string, img v1.Image) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("invalid --tag %q: %w", tag, err)
	}
	if err := tarball.WriteToFile(file, ref, img); err != nil {
		return fmt.Errorf("write docker archive %s: %w", file, err)
	}
	return nil
}

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths and ids inside the image. Kubernetes manifests, the Dockerfile and
// the docs repeat them, so a change here must be made there too.
const (
	binaryPath = "/usr/bin/pullcache"
	configPath = "/etc/pullcache/config.yaml"
	dataDir    = "/var/lib/pullcache"
	caCertPath = "/etc/ssl/certs/ca-certificates.crt"

	// userID and groupID are the "nonroot" ids of the distroless images,
	// so volume permissions carry over between both kinds of image.
	userID  = 65532
	groupID = 65532

	registryPort = "5000/tcp"
	adminPort    = "9090/tcp"

	sourceURL = "https://github.com/pullcache/pullcache"
)

// Options are the inputs shared by every platform's image.
type Options struct {
	Version  string
	Revision string
	Created  time.Time
	Config   []byte // the default configuration file
	CACerts  []byte // PEM bundle
}

// platformImage is one built image and the platform it runs on.
type platformImage struct {
	platform v1.Platform
	image    v1.Image
}

func buildAll(opts Options, binaries binaryFlags) ([]platformImage, error) {
	var images []platformImage
	for _, b := range binaries {
		binary, err := os.ReadFile(b.path)
		if err != nil {
			return nil, fmt.Errorf("read --binary %s/%s: %w", b.os, b.arch, err)
		}
		if err := checkStaticBinary(binary, b.os, b.arch); err != nil {
			return nil, fmt.Errorf("--binary %s: %w", b.path, err)
		}
		platform := v1.Platform{OS: b.os, Architecture: b.arch}
		img, err := buildImage(opts, platform, binary)
		if err != nil {
			return nil, fmt.Errorf("build image for %s/%s: %w", b.os, b.arch, err)
		}
		images = append(images, platformImage{platform: platform, image: img})
	}
	return images, nil
}

// buildImage returns an OCI image with two layers: the base files (users,
// certificates, configuration, directories) and the binary, which changes
// with every release while the base rarely does.
func buildImage(opts Options, platform v1.Platform, binary []byte) (v1.Image, error) {
	base, err := layerFromFiles(baseFiles(opts))
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	app, err := layerFromFiles(binaryFiles(binary))
	if err != nil {
		return nil, fmt.Errorf("binary layer: %w", err)
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: opts.Created},
			CreatedBy: "imagebuild: users, CA certificates, " + configPath + ", " + dataDir, Comment: "base"}},
		mutate.Addendum{Layer: app, History: v1.History{Created: v1.Time{Time: opts.Created},
			CreatedBy: "imagebuild: " + binaryPath, Comment: "pullcache " + opts.Version}},
	)
	if err != nil {
		return nil, err
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = platform.OS
	cf.Architecture = platform.Architecture
	cf.Created = v1.Time{Time: opts.Created}
	cf.Config = runtimeConfig(opts)
	return mutate.ConfigFile(img, cf)
}

// runtimeConfig is the part of the image configuration a container runtime
// reads: what to run, as whom, and what the container offers.
func runtimeConfig(opts Options) v1.Config {
	return v1.Config{
		User:       fmt.Sprintf("%d:%d", userID, groupID),
		Entrypoint: []string{binaryPath, "serve", "--config", configPath},
		Env: []string{
			"PATH=/usr/bin",
			"SSL_CERT_FILE=" + caCertPath,
		},
		WorkingDir:   dataDir,
		ExposedPorts: map[string]struct{}{registryPort: {}, adminPort: {}},
		Volumes:      map[string]struct{}{dataDir: {}},
		StopSignal:   "SIGTERM",
		Labels:       labels(opts),
		// Docker runs this; containerd and Kubernetes ignore it and use
		// their own probes (deploy/kubernetes has exec and HTTP examples).
		// It reads the configuration serve reads, so that it follows
		// admin_listen and uses https when tls is set.
		Healthcheck: &v1.HealthConfig{
			Test:        []string{"CMD", binaryPath, "healthcheck", "--config", configPath},
			Interval:    30 * time.Second,
			Timeout:     5 * time.Second,
			StartPeriod: 10 * time.Second,
			Retries:     3,
		},
	}
}

// labels are the OCI pre-defined annotation keys, set as image labels.
func labels(opts Options) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "pullcache",
		"org.opencontainers.image.description": "A pull-through cache for container registries",
		"org.opencontainers.image.version":     opts.Version,
		"org.opencontainers.image.created":     opts.Created.Format(time.RFC3339),
		"org.opencontainers.image.source":      sourceURL,
		"org.opencontainers.image.url":         sourceURL,
		// TODO: add org.opencontainers.image.licenses once the repository has a license file.
	}
	if opts.Revision != "" {
		l["org.opencontainers.image.revision"] = opts.Revision
	}
	return l
}

// layerFromFiles writes files into an uncompressed tar and returns it as
// an OCI layer, which go-containerregistry compresses with gzip.
func layerFromFiles(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	if err := writeTar(&buf, files); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

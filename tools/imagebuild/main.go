// Command imagebuild assembles pullcache's container image from static
// binaries without a Docker engine, using go-containerregistry. The image
// has no shell and no package manager: the binary, CA certificates, a
// non-root user, a default configuration file and an empty data directory.
//
// Usage (scripts/release.sh shows a full run):
//
//	go run ./tools/imagebuild --config deploy/image/config.yaml \
//	    --binary linux/amd64=dist/pullcache-linux-amd64 \
//	    --docker-archive pullcache.tar --tag pullcache:dev
//
// --oci-layout writes every --binary platform into one image index;
// --docker-archive takes exactly one platform, the format `docker load` and
// `ctr images import` read.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

const defaultCACerts = "/etc/ssl/certs/ca-certificates.crt"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var (
		binaries      binaryFlags
		opts          Options
		configPath    string
		caPath        string
		created       string
		ociLayout     string
		dockerArchive string
		tag           string
	)
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	fs.Var(&binaries, "binary", "OS/ARCH=PATH of a static pullcache binary; repeat for each platform")
	fs.StringVar(&configPath, "config", "", "the image's default configuration file (required)")
	fs.StringVar(&caPath, "ca-certs", defaultCACerts, "PEM bundle of CA certificates to put in the image")
	fs.StringVar(&opts.Version, "version", "dev", "version for the labels and the layout's tag")
	fs.StringVar(&opts.Revision, "revision", "", "source revision (commit) for the labels")
	fs.StringVar(&created, "created", "", "creation time, RFC 3339 (default: SOURCE_DATE_EPOCH, else the Unix epoch)")
	fs.StringVar(&ociLayout, "oci-layout", "", "write every platform into an OCI image layout in this directory")
	fs.StringVar(&dockerArchive, "docker-archive", "", "write the one platform as a docker-archive tarball to this file")
	fs.StringVar(&tag, "tag", "", "image name in the docker archive (default pullcache:VERSION)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	if len(binaries) == 0 {
		return errors.New("missing --binary: give at least one OS/ARCH=PATH")
	}
	if configPath == "" {
		return errors.New("missing --config: give the image's default configuration file")
	}
	if ociLayout == "" && dockerArchive == "" {
		return errors.New("missing output: give --oci-layout DIR, --docker-archive FILE or both")
	}
	if dockerArchive != "" && len(binaries) != 1 {
		return fmt.Errorf("--docker-archive takes exactly one --binary, but %d were given; use --oci-layout for several platforms", len(binaries))
	}

	var err error
	if opts.Created, err = creationTime(created); err != nil {
		return err
	}
	if opts.Config, err = os.ReadFile(configPath); err != nil {
		return fmt.Errorf("read --config: %w", err)
	}
	if opts.CACerts, err = os.ReadFile(caPath); err != nil {
		return fmt.Errorf("read --ca-certs: %w", err)
	}

	images, err := buildAll(opts, binaries)
	if err != nil {
		return err
	}
	if ociLayout != "" {
		if err := writeOCILayout(ociLayout, opts.Version, images); err != nil {
			return err
		}
	}
	if dockerArchive != "" {
		if tag == "" {
			tag = "pullcache:" + opts.Version
		}
		if err := writeDockerArchive(dockerArchive, tag, images[0].image); err != nil {
			return err
		}
	}
	return nil
}

// creationTime parses --created, or else SOURCE_DATE_EPOCH (the
// reproducible-builds convention), or else returns the Unix epoch, so
// that the same inputs always give the same image digest.
func creationTime(value string) (time.Time, error) {
	if value != "" {
		t, err := time.Parse(time.RFC3339, value)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid --created %q: want RFC 3339, such as 2026-01-02T15:04:05Z", value)
		}
		return t.UTC(), nil
	}
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		seconds, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid SOURCE_DATE_EPOCH %q: want Unix seconds", epoch)
		}
		return time.Unix(seconds, 0).UTC(), nil
	}
	return time.Unix(0, 0).UTC(), nil
}

// binaryFlags collects repeated --binary OS/ARCH=PATH values.
type binaryFlags []platformBinary

type platformBinary struct {
	os, arch, path string
}

func (b *binaryFlags) String() string {
	parts := make([]string, len(*b))
	for i, p := range *b {
		parts[i] = p.os + "/" + p.arch + "=" + p.path
	}
	return strings.Join(parts, ",")
}

func (b *binaryFlags) Set(value string) error {
	platform, path, ok := strings.Cut(value, "=")
	osName, arch, okPlatform := strings.Cut(platform, "/")
	if !ok || !okPlatform || osName == "" || arch == "" || path == "" {
		return fmt.Errorf("invalid value %q: want OS/ARCH=PATH, such as linux/amd64=dist/pullcache", value)
	}
	for _, existing := range *b {
		if existing.os == osName && existing.arch == arch {
			return fmt.Errorf("platform %s given twice", platform)
		}
	}
	*b = append(*b, platformBinary{os: osName, arch: arch, path: path})
	return nil
}

#!/usr/bin/env bash
# Builds pullcache's release artifacts into dist/:
#   pullcache-VERSION-linux-ARCH                static binary per platform (CGO off)
#   pullcache-VERSION-image-linux-ARCH.tar      container image per platform, docker-archive
#                                               format (docker load, ctr images import)
#   pullcache-VERSION-image-oci.tar             every platform in one OCI image layout (tar)
#   SHA256SUMS                                  sha256sum -c checks every file above
# The images are assembled by tools/imagebuild, so no Docker engine is needed.
#
# Environment:
#   VERSION          version stamped into the binary and the image labels
#                    (default: git describe, or "dev" outside a git checkout)
#   PLATFORMS        space-separated OS/ARCH list (default: "linux/amd64 linux/arm64")
#   DIST_DIR         output directory, emptied first (default: dist)
#   SOURCE_DATE_EPOCH  image creation time in Unix seconds (default: the last
#                    commit's time), so two builds of one commit give equal images
#   NO_IMAGE=1       build the binaries and checksums only
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin"

version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
revision="$(git rev-parse HEAD 2>/dev/null || true)"
read -r -a platforms <<<"${PLATFORMS:-linux/amd64 linux/arm64}"
dist="${DIST_DIR:-dist}"
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
  SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null || echo 0)"
fi
export SOURCE_DATE_EPOCH

rm -rf "$dist"
mkdir -p "$dist"

binary_args=()
for platform in "${platforms[@]}"; do
  os="${platform%/*}"
  arch="${platform#*/}"
  binary="$dist/pullcache-$version-$os-$arch"
  echo "build $binary"
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath \
    -ldflags "-s -w -X main.version=$version" -o "$binary" ./cmd/pullcache
  binary_args+=(--binary "$platform=$binary")
done

if [[ "${NO_IMAGE:-0}" != 1 ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  go build -o "$work/imagebuild" ./tools/imagebuild
  common=(--version "$version" --revision "$revision" --config deploy/image/config.yaml)

  for platform in "${platforms[@]}"; do
    os="${platform%/*}"
    arch="${platform#*/}"
    archive="$dist/pullcache-$version-image-$os-$arch.tar"
    echo "image $archive"
    "$work/imagebuild" "${common[@]}" --binary "$platform=$dist/pullcache-$version-$os-$arch" \
      --docker-archive "$archive" --tag "pullcache:$version"
  done

  layout="$work/oci"
  echo "image $dist/pullcache-$version-image-oci.tar"
  "$work/imagebuild" "${common[@]}" "${binary_args[@]}" --oci-layout "$layout"
  # A fixed order, owner and time keep the tar byte-for-byte reproducible.
  tar -C "$layout" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$SOURCE_DATE_EPOCH" -cf "$dist/pullcache-$version-image-oci.tar" .
fi

(cd "$dist" && sha256sum -- * >SHA256SUMS)
echo "checksums $dist/SHA256SUMS"

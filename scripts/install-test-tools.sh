#!/usr/bin/env bash
# Installs the registry clients and servers that the end-to-end tests use.
# Idempotent: it installs only what is missing and prints one line per install.
# Needs root (apt-get) and the Go toolchain on PATH.
#   PULLCACHE_TOOLS_BIN  where Go tools go (default /usr/local/bin)
set -euo pipefail

bin="${PULLCACHE_TOOLS_BIN:-/usr/local/bin}"

# One package a line, so that features add their tools without touching each other's lines.
apt_packages=(
  skopeo
  iproute2
  util-linux
  ca-certificates
  docker-registry
  containerd
  docker.io
  curl
  podman
  buildah
  chromium
  systemd
)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-test-tools: missing Debian packages ${missing[*]}; run this script as root" >&2
    exit 1
  fi
  # Keep packaged services from starting: the tests start their own instances on loopback.
  added_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    echo "install-test-tools: apt-get install ${missing[*]} failed" >&2
    ((added_policy)) && rm -f /usr/sbin/policy-rc.d
    exit 1
  fi
  ((added_policy)) && rm -f /usr/sbin/policy-rc.d
  echo "apt: installed ${missing[*]}"
fi

# Go tools, pinned. A binary that already reports the pinned module version is kept.
go_tools=(
  "crane github.com/google/go-containerregistry/cmd/crane v0.22.1"
  "staticcheck honnef.co/go/tools/cmd/staticcheck v0.8.2"
  "regctl github.com/regclient/regclient/cmd/regctl v0.11.7"
  "versitygw github.com/versity/versitygw/cmd/versitygw v1.8.0"
)
mkdir -p "$bin"
for tool in "${go_tools[@]}"; do
  read -r name package version <<<"$tool"
  have=$({ go version -m "$bin/$name" 2>/dev/null || true; } | awk '$1=="mod"{print $3; exit}')
  if [[ "$have" == "$version" ]]; then
    continue
  fi
  if ! output=$(GOBIN="$bin" GOFLAGS=-buildvcs=false go install "$package@$version" 2>&1); then
    echo "install-test-tools: go install $package@$version failed:" >&2
    echo "$output" >&2
    exit 1
  fi
  echo "go: installed $name $version"
done

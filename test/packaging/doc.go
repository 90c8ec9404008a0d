// Package packaging checks what operators install: the release script's
// binaries, checksums and images, the systemd unit and the Kubernetes
// manifests. The container image running in containerd is checked in
// test/e2e.
package packaging

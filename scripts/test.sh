#!/usr/bin/env bash
# Runs pullcache's checks and tests. It installs the registry clients that
# the end-to-end tests use when they are missing, then runs go vet and
# staticcheck. Last, it runs every test with the race detector inside a
# network namespace that has only a loopback interface, so no test can
# reach a real registry.
#
# Usage: scripts/test.sh [go test flags...]   e.g. scripts/test.sh -run E2E ./test/e2e/
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"

bash scripts/install-test-tools.sh

args=("$@")
has_package=0
for arg in "${args[@]}"; do
  [[ "$arg" == ./* ]] && has_package=1
done
((has_package)) || args+=(./...)

echo "== go vet"
go vet ./...
echo "== staticcheck"
staticcheck ./...

# Build everything, test binaries included, while the module proxy is
# still reachable; inside the namespace only the module cache is.
echo "== build"
go build ./...
go test -race -count=1 -run '^$' ./... >/dev/null

echo "== test (network namespace: loopback only)"
run_isolated() {
  if [[ $(id -u) -eq 0 ]]; then
    unshare --net -- "$@"
  else
    unshare --net --map-root-user -- "$@"
  fi
}
run_isolated bash -c 'ip link set lo up && exec env GOPROXY=off go test -race -count=1 -timeout 30m "$@"' \
  test-in-netns "${args[@]}"

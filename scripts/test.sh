#!/usr/bin/env bash
# Runs pullcache's checks and tests. It installs the registry clients that
# the end-to-end tests use when they are missing, then runs go vet and
# staticcheck. Last, it runs every test with the race detector inside a
# network namespace that has only a loopback interface, so no test can
# reach a real registry.
#
# Usage: scripts/test.sh [go test flags...]   e.g. scripts/test.sh -run E2E ./test/e2e/
# A run without arguments also runs every fuzz target for FUZZTIME (default
# 50000x, that many inputs) each, after the tests and in the same kind of
# namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"

bash scripts/install-test-tools.sh

args=("$@")
full_run=$((${#args[@]} == 0))
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

if ((full_run)); then
  # A count, not a duration. With a duration, Go 1.26's fuzz coordinator
  # can fail a target with "context deadline exceeded" when the time runs
  # out while a worker is busy. Go 1.27 fixes this race, and a loaded CI
  # machine hits it now and then.
  fuzztime="${FUZZTIME:-50000x}"
  echo "== fuzz ($fuzztime per target, network namespace: loopback only)"
  # Each target is a "func FuzzX(f *testing.F)" in a _test.go file; go test
  # fuzzes one target of one package per run.
  targets=()
  while IFS=: read -r file line; do
    name=${line#func }
    name=${name%%(*}
    targets+=("./$(dirname "${file#./}")" "$name")
  done < <(grep -r --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | sed -E 's/^([^:]+):(func Fuzz[A-Za-z0-9_]*)\(.*/\1:\2/' | sort)
  run_isolated bash -c 'ip link set lo up
    set -e
    fuzztime=$1; shift
    while (($#)); do
      echo "-- $2 ($1)"
      GOPROXY=off go test -run "^\$" -fuzz "^$2\$" -fuzztime "$fuzztime" "$1"
      shift 2
    done' fuzz-in-netns "$fuzztime" "${targets[@]}"
fi

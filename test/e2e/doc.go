// Package e2e runs the pullcache binary against the in-process Docker Hub
// stand-in (internal/hubsim) and pulls through it with real registry
// clients, crane and skopeo. Every server listens on loopback only.
//
// The tests live in _test.go files. Run them with go test ./test/e2e/, or
// with scripts/test.sh, which adds -race and a network namespace that has
// only a loopback interface.
package e2e

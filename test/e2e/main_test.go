package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// pullcacheBinary is the path of the pullcache binary that TestMain builds
// once for every test.
var pullcacheBinary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pullcache-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: create build directory: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)

	pullcacheBinary = filepath.Join(dir, "pullcache")
	build := exec.Command("go", "build", "-o", pullcacheBinary, "github.com/pullcache/pullcache/cmd/pullcache")
	if output, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build pullcache: %v\n%s", err, output)
		return 1
	}
	return m.Run()
}

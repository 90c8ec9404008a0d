package packaging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerfileMatchesImagebuild checks that the Dockerfile, which cannot
// be built here without a Docker engine and registry access, declares
// the same runtime contract as the image tools/imagebuild assembles.
func TestDockerfileMatchesImagebuild(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines so each instruction is one line.
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	instructions := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		keyword, rest, _ := strings.Cut(line, " ")
		// Later instructions of the final stage win, as in a build.
		instructions[keyword] = strings.Join(strings.Fields(rest), " ")
	}

	want := map[string]string{
		"USER":        "65532:65532",
		"WORKDIR":     "/var/lib/pullcache",
		"EXPOSE":      "5000 9090",
		"VOLUME":      `["/var/lib/pullcache"]`,
		"STOPSIGNAL":  "SIGTERM",
		"ENTRYPOINT":  `["/usr/bin/pullcache", "serve", "--config", "/etc/pullcache/config.yaml"]`,
		"HEALTHCHECK": `--interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/bin/pullcache", "healthcheck", "--config", "/etc/pullcache/config.yaml"]`,
	}
	for keyword, value := range want {
		if instructions[keyword] != value {
			t.Errorf("Dockerfile %s = %q, want %q as tools/imagebuild sets it", keyword, instructions[keyword], value)
		}
	}
	if !strings.Contains(text, "COPY deploy/image/config.yaml /etc/pullcache/config.yaml") {
		t.Error("the Dockerfile does not install deploy/image/config.yaml, the image's default configuration")
	}
	if !strings.Contains(text, "CGO_ENABLED=0") {
		t.Error("the Dockerfile does not build a static binary (CGO_ENABLED=0)")
	}
}

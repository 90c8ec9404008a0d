package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository's root as seen from this package's directory,
// where go test runs the tests.
const repoRoot = "../.."

// docPages are the pages whose configuration snippets the tests read, so
// that a reader copies exactly what was tested. Their Japanese versions
// under docs/ja carry the same snippets.
var docPages = []string{
	"docs/clients/README.md",
	"docs/clients/docker.md",
	"docs/clients/containerd.md",
	"docs/clients/buildkit.md",
	"docs/clients/podman.md",
	"docs/clients/cri-o.md",
	"docs/clients/codebuild.md",
	"docs/clients/github-actions.md",
	"docs/clients/gitlab-ci.md",
}

// testedSnippets maps page and snippet name to the test that runs it. A
// fenced block in a page is either marked <!-- snippet: NAME --> and
// listed here, or marked <!-- untested --> with a sentence for the reader
// saying so.
var testedSnippets = map[string]string{
	"docs/clients/README.md pullcache-upstreams": "TestMultiRegistryPathPrefix",
	"docs/clients/README.md check-upstream":      "TestMultiRegistryNamespaceParam",
	"docs/clients/containerd.md hosts-docker.io": "TestContainerdPullsBothRegistries",
	"docs/clients/containerd.md hosts-ghcr.io":   "TestContainerdPullsBothRegistries",
	"docs/clients/containerd.md check":           "TestContainerdPullsBothRegistries",
	"docs/clients/podman.md registries.conf":     "TestPodmanPullsBothRegistries",
	"docs/clients/podman.md check":               "TestPodmanPullsBothRegistries",
	"docs/clients/cri-o.md registries.conf.d":    "TestPodmanPullsBothRegistries",
	"docs/clients/docker.md daemon.json":         "TestDockerdMirrorsDockerHub",
	"docs/clients/docker.md check":               "TestDockerdMirrorsDockerHub",
	"docs/clients/codebuild.md dockerd-command":  "TestDockerdMirrorFlags",
	"docs/clients/gitlab-ci.md dind-service":     "TestDockerdMirrorFlags",
}

// snippetMarker precedes a fenced block that a test reads or that the
// page marks as untested.
var snippetMarker = regexp.MustCompile(`^<!-- (snippet: (\S+)|untested) -->$`)

// docBlock is one fenced code block of a page.
type docBlock struct {
	marker string // "snippet: NAME", "untested" or empty
	name   string
	body   string
	line   int
}

// readDocBlocks returns every fenced block of a page with the marker on
// the line before its opening fence, if any.
func readDocBlocks(t *testing.T, page string) []docBlock {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, page))
	if err != nil {
		t.Fatalf("read %s: %v", page, err)
	}
	lines := strings.Split(string(data), "\n")

	var blocks []docBlock
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "```") {
			continue
		}
		block := docBlock{line: i + 1}
		if i > 0 {
			if m := snippetMarker.FindStringSubmatch(lines[i-1]); m != nil {
				block.marker, block.name = m[1], m[2]
			}
		}
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			body = append(body, lines[i])
		}
		block.body = strings.Join(body, "\n") + "\n"
		blocks = append(blocks, block)
	}
	return blocks
}

// docSnippet returns the fenced block marked <!-- snippet: name --> in page.
func docSnippet(t *testing.T, page, name string) string {
	t.Helper()
	if _, ok := testedSnippets[page+" "+name]; !ok {
		t.Fatalf("snippet %s of %s is not listed in testedSnippets", name, page)
	}
	for _, block := range readDocBlocks(t, page) {
		if block.name == name {
			return block.body
		}
	}
	t.Fatalf("%s has no block marked <!-- snippet: %s -->", page, name)
	return ""
}

// replaceAll applies old, new pairs to s and fails the test when an old
// string is missing, so that a changed snippet cannot silently escape its
// test.
func replaceAll(t *testing.T, s string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("snippet has no %q to replace:\n%s", pairs[i], s)
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}

func TestClientDocsMarked(t *testing.T) {
	testSources := readTestSources(t)
	listed := map[string]bool{}

	for _, page := range docPages {
		japanese := strings.Replace(page, "docs/", "docs/ja/", 1)
		en, ja := readDocBlocks(t, page), readDocBlocks(t, japanese)
		if len(en) != len(ja) {
			t.Errorf("%s has %d code blocks and %s %d; keep the pages in step", page, len(en), japanese, len(ja))
		}

		for i, block := range en {
			switch {
			case block.marker == "":
				t.Errorf("%s:%d: code block without <!-- snippet: NAME --> or <!-- untested -->", page, block.line)
			case block.name != "":
				key := page + " " + block.name
				test, ok := testedSnippets[key]
				if !ok {
					t.Errorf("%s:%d: snippet %s is not listed in testedSnippets", page, block.line, block.name)
				} else if !strings.Contains(testSources, "func "+test+"(") {
					t.Errorf("snippet %s names test %s, which does not exist", key, test)
				}
				listed[key] = true
			}
			if i < len(ja) && (ja[i].marker != block.marker || ja[i].body != block.body) {
				t.Errorf("%s:%d and %s:%d differ; the Japanese page carries the same snippets", page, block.line, japanese, ja[i].line)
			}
		}
	}

	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs/clients/*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range pages {
		rel, _ := filepath.Rel(repoRoot, page)
		if !slices.Contains(docPages, rel) {
			t.Errorf("%s is not listed in docPages, so its snippets are not checked", rel)
		}
	}

	for key := range testedSnippets {
		if !listed[key] {
			t.Errorf("testedSnippets lists %s, which no page marks", key)
		}
	}
}

// readTestSources returns the text of this package's test files.
func readTestSources(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		b.Write(data)
	}
	return b.String()
}

// runDocScript runs a shell snippet of the docs with bash within
// toolTimeout, with env as its whole environment.
func runDocScript(t *testing.T, env []string, script string) toolResult {
	t.Helper()
	result := runCommand(nil, env, "", "bash", "-c", script)
	t.Logf("bash -c %q: %s", script, errOrOK(result.err))
	return result
}

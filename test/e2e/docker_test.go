package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestDockerdMirrorsDockerHub(t *testing.T) {
	s := startTwoRegistries(t)
	daemonJSON := replaceAll(t, docSnippet(t, "docs/clients/docker.md", "daemon.json"),
		"pullcache.internal:5000", s.mirror.addr)
	d := startDockerd(t, daemonJSON)

	got, r := d.pull(t, appRepo+":1")
	if r.err != nil {
		t.Fatalf("docker pull %s:1 through the mirror failed: %s", appRepo, r.failure())
	}
	if got != s.hubApp.String() {
		t.Errorf("docker pull %s:1 recorded %s, want docker.io's %s", appRepo, got, s.hubApp)
	}
	// dockerd resolves the tag with HEAD and fetches the manifest by
	// digest, which links it to the repository in the store.
	if !s.mirror.storedDigestLink("docker.io", appRepo, s.hubApp) {
		t.Errorf("the mirror's store has no docker.io %s@%s: the pull did not go through the mirror", appRepo, s.hubApp)
	}

	// dockerd uses mirrors for Docker Hub only, as the page states. A
	// ghcr.io pull goes to ghcr.io itself, which the network namespace
	// cannot reach.
	if _, r := d.pull(t, "ghcr.io/"+appRepo+":1"); r.err == nil {
		t.Errorf("docker pull ghcr.io/%s:1 succeeded in a namespace with no route to ghcr.io", appRepo)
	}
	if _, err := os.Stat(filepath.Join(s.mirror.dataDir, "repositories", "ghcr.io")); err == nil {
		t.Errorf("the mirror stored ghcr.io content for a dockerd pull; the page states that dockerd mirrors Docker Hub only")
	}

	// The page's check: the mirror is listed, and a pulled image's
	// manifest is a HIT by digest.
	requireTool(t, "curl")
	check := replaceAll(t, docSnippet(t, "docs/clients/docker.md", "check"),
		"docker ", "docker --host unix://"+d.socket+" ",
		"pullcache.internal:5000", s.mirror.addr,
	)
	r = runDocScript(t, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + d.dir, "DOCKER_CONFIG=" + filepath.Join(d.dir, "client")}, check)
	if r.err != nil {
		t.Fatalf("the Docker page's check failed: %s", r.failure())
	}
	output := strings.ToLower(r.stdout)
	if !strings.Contains(output, "[http://"+s.mirror.addr+"/]") {
		t.Errorf("the Docker page's check printed %q, want the mirror listed by docker info", r.stdout)
	}
	if !strings.Contains(output, "x-cache-status: hit") {
		t.Errorf("the Docker page's check printed %q, want X-Cache-Status: HIT", r.stdout)
	}
}

// mirrorFlags returns the --registry-mirror and --insecure-registry
// arguments of a dockerd command line.
func mirrorFlags(args []string) []string {
	var flags []string
	for _, arg := range args {
		if strings.HasPrefix(arg, "--registry-mirror=") || strings.HasPrefix(arg, "--insecure-registry=") {
			flags = append(flags, arg)
		}
	}
	return flags
}

// codeBuildDockerdFlags returns the mirror flags of the dockerd command in
// the install phase of the CodeBuild page's buildspec.
func codeBuildDockerdFlags(t *testing.T, snippet string) []string {
	t.Helper()
	var spec struct {
		Phases struct {
			Install struct {
				Commands []string `yaml:"commands"`
			} `yaml:"install"`
		} `yaml:"phases"`
	}
	if err := yaml.Unmarshal([]byte(snippet), &spec); err != nil {
		t.Fatalf("parse the buildspec: %v", err)
	}
	for _, command := range spec.Phases.Install.Commands {
		fields := strings.Fields(command)
		if len(fields) > 1 && fields[0] == "nohup" && filepath.Base(fields[1]) == "dockerd" {
			return mirrorFlags(fields[2:])
		}
	}
	t.Fatalf("the buildspec's install phase has no nohup dockerd command")
	return nil
}

// gitLabDindFlags returns the mirror flags of the dind service's command
// in the GitLab page's job.
func gitLabDindFlags(t *testing.T, snippet string) []string {
	t.Helper()
	var jobs map[string]struct {
		Services []struct {
			Name    string   `yaml:"name"`
			Command []string `yaml:"command"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(snippet), &jobs); err != nil {
		t.Fatalf("parse the job: %v", err)
	}
	for _, job := range jobs {
		for _, service := range job.Services {
			if strings.Contains(service.Name, "dind") {
				return mirrorFlags(service.Command)
			}
		}
	}
	t.Fatalf("the job has no dind service")
	return nil
}

func TestDockerdMirrorFlags(t *testing.T) {
	s := startTwoRegistries(t)
	alpine := s.hub.std.Alpine.Digest.String()

	for _, tt := range []struct {
		name  string
		flags func(*testing.T, string) []string
		page  string
		block string
	}{
		{"codebuild", codeBuildDockerdFlags, "docs/clients/codebuild.md", "dockerd-command"},
		{"gitlab", gitLabDindFlags, "docs/clients/gitlab-ci.md", "dind-service"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			snippet := replaceAll(t, docSnippet(t, tt.page, tt.block), "pullcache.internal:5000", s.mirror.addr)
			flags := tt.flags(t, snippet)
			want := []string{"--registry-mirror=http://" + s.mirror.addr, "--insecure-registry=" + s.mirror.addr}
			if !slices.Equal(flags, want) {
				t.Fatalf("the snippet's mirror flags are %q, want %q", flags, want)
			}
			d := startDockerd(t, "", flags...)

			got, r := d.pull(t, "alpine:3.20")
			if r.err != nil {
				t.Fatalf("docker pull alpine:3.20 through the mirror failed: %s", r.failure())
			}
			if got != alpine {
				t.Errorf("docker pull alpine:3.20 recorded %s, want the hub's %s", got, alpine)
			}
		})
	}
	if !s.mirror.storedDigestLink("docker.io", "library/alpine", s.hub.std.Alpine.Digest) {
		t.Errorf("the mirror's store has no docker.io library/alpine@%s: the pulls did not go through the mirror", alpine)
	}
}

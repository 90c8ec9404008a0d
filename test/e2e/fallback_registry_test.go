package e2e

import (
	"testing"

	"github.com/pullcache/pullcache/internal/hubsim"
)

func TestFallbackDistributionRegistry(t *testing.T) {
	requireTool(t, "crane")
	requireTool(t, "docker-registry")
	t.Parallel()
	hub := startHub(t, hubOptions{limit: 1})
	// crane follows a token realm only on the registry's own host, so the
	// source hub serves its tokens itself.
	source := hubsim.New(hubsim.Options{})
	if err := source.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start the source hubsim: %v", err)
	}
	t.Cleanup(source.Close)
	source.SeedStandard(0)
	registry := startDistRegistry(t).addr
	client := newClientEnv(t)
	want := hub.std.MultiArch

	// The same index, copied with every platform, under a prefix.
	from := source.URL()[len("http://"):] + "/" + want.Repo + ":" + want.Tag
	to := registry + "/mirror/" + want.Repo + ":" + want.Tag
	if result := client.crane(t, "copy", from, to); result.err != nil {
		t.Fatalf("crane copy %s %s failed: %s", from, to, result.failure())
	}

	m := startMirror(t, hub, mirrorConfig{upstreamYAML: fallbackYAML("url: http://" + registry + ", path_prefix: mirror/")})
	spendQuota(t, hub, m)

	client.cranePull(t, m.ref(want.Repo+":"+want.Tag)).checkIndexPreserved(t, want)

	checkNoPrimaryPull(t, hub)
}

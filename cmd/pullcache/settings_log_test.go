package main

import (
	"strings"
	"testing"

	"github.com/pullcache/pullcache/internal/config"
)

func TestSettingsLogNamesEveryLimit(t *testing.T) {
	cfg, err := loadServeConfig(serveFlags{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cache.MaxSize = 50 * config.ByteSize(1<<30)

	var out strings.Builder
	newTestLogger(&out).Info("pullcache started", settingsAttr(cfg))
	line := out.String()
	for _, want := range []string{
		"config.max_size=50GiB",
		"config.gc_grace=" + cfg.Cache.GCGrace.String(),
		"config.limits.max_upstream_fetches=",
		"config.limits.fetch_queue_wait=",
		"config.limits.read_header_timeout=" + cfg.Limits.ReadHeaderTimeout.String(),
		"config.limits.idle_timeout=" + cfg.Limits.IdleTimeout.String(),
		"config.limits.max_manifest_size=" + cfg.Limits.MaxManifestSize.String(),
	} {
		if !strings.Contains(line, want) {
			t.Errorf("start log lacks %s: %s", want, line)
		}
	}
}

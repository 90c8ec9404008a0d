package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestDurationsWrittenAsText(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var out bytes.Buffer
		New(&out, Options{Format: format}).Info("pullcache started",
			slog.Duration("tag_ttl", 5*time.Minute), slog.Group("config", slog.Duration("gc_grace", time.Hour)))

		if format == "text" {
			for _, want := range []string{"tag_ttl=5m0s", "config.gc_grace=1h0m0s"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("text log lacks %s: %s", want, out.String())
				}
			}
			continue
		}
		var rec struct {
			TagTTL any `json:"tag_ttl"`
			Config struct {
				GCGrace any `json:"gc_grace"`
			} `json:"config"`
		}
		if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
			t.Fatalf("decode JSON log %q: %v", out.String(), err)
		}
		if rec.TagTTL != "5m0s" {
			t.Errorf("JSON tag_ttl = %v, want \"5m0s\"", rec.TagTTL)
		}
		if rec.Config.GCGrace != "1h0m0s" {
			t.Errorf("JSON config.gc_grace = %v, want \"1h0m0s\"", rec.Config.GCGrace)
		}
	}
}

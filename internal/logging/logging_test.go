package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/testclock"
)

func TestRepeatedWarningsHeldBack(t *testing.T) {
	var out bytes.Buffer
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	log := New(&out, Options{Format: "json", Clock: clock.Now}).With(slog.String("upstream", "docker.io"))
	ctx := context.Background()

	for i := range 5 {
		log.WarnContext(WithRequestID(ctx, string(rune('a'+i))), "serving stored manifest because upstream failed", slog.String("err", "upstream 503"))
	}
	log.Warn("serving stored manifest because upstream failed", slog.String("err", "upstream 429"))
	log.Info("fetched manifest")
	log.Info("fetched manifest")
	clock.Advance(RepeatWindow)
	log.Warn("serving stored manifest because upstream failed", slog.String("err", "upstream 503"))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5 (first 503, the 429, two info lines, 503 after the window):\n%s", len(lines), out.String())
	}
	var first, last map[string]any
	json.Unmarshal([]byte(lines[0]), &first)
	json.Unmarshal([]byte(lines[4]), &last)
	if first["request_id"] != "a" || first["upstream"] != "docker.io" {
		t.Errorf("first line %v lacks request_id a or the upstream", first)
	}
	if last["repeated"] != float64(4) {
		t.Errorf("line after the window: repeated = %v, want 4", last["repeated"])
	}
}

func TestRecentKeepsLatestWarnings(t *testing.T) {
	recent := NewRecent(3)
	log := New(&bytes.Buffer{}, Options{Recent: recent, Level: slog.LevelError})
	ctx := WithRequestID(context.Background(), "r1")
	for _, msg := range []string{"one", "two", "three", "four"} {
		log.WarnContext(ctx, msg, slog.String("upstream", "docker.io"), slog.Any("err", errors.New("upstream 503 "+msg)))
	}
	log.Info("not kept")

	got := recent.Entries()
	if len(got) != 3 || got[0].Message != "four" || got[2].Message != "two" {
		t.Fatalf("entries %+v, want four, three, two", got)
	}
	if got[0].Upstream != "docker.io" || got[0].Error != "upstream 503 four" || got[0].RequestID != "r1" || got[0].Level != "WARN" {
		t.Errorf("entry %+v lacks its attributes", got[0])
	}
}

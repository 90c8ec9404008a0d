package evict

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/pullcache/pullcache/internal/storage/fs"
)

func TestRunStoppedAtStartLogsNoLoss(t *testing.T) {
	store, err := fs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	var logs bytes.Buffer
	e, err := New(Options{Store: store, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("new evictor: %v", err)
	}

	// A server whose start fails stops the evictor before it read anything.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.Run(ctx)

	if bytes.Contains(logs.Bytes(), []byte("level=WARN")) {
		t.Errorf("evictor stopped at start on a fresh store logged a warning:\n%s", logs.String())
	}
}

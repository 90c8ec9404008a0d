package storage

import (
	"context"
	"errors"
	"testing"
)

func TestWriterStateWriteErrorSticks(t *testing.T) {
	s := NewWriterState("k")
	failure := errors.New("disk full")
	if _, err := s.Write([]byte("a"), func(p []byte) (int, error) { return 0, failure }); !errors.Is(err, failure) {
		t.Fatalf("Write = %v, want the write's error", err)
	}
	called := false
	if _, err := s.Write([]byte("b"), func(p []byte) (int, error) { called = true; return len(p), nil }); !errors.Is(err, failure) {
		t.Errorf("second Write = %v, want the first error again", err)
	}
	if called {
		t.Error("a Write after a failed one reached the backend")
	}

	discarded := 0
	err := s.BeginCommit(context.Background(), func() error { discarded++; return nil })
	if !errors.Is(err, failure) {
		t.Errorf("BeginCommit after a failed write = %v, want the write error", err)
	}
	if discarded != 1 {
		t.Errorf("BeginCommit after a failed write discarded %d times, want once", discarded)
	}
}

func TestWriterStateCommitEndedContext(t *testing.T) {
	s := NewWriterState("k")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	discarded := 0
	err := s.BeginCommit(ctx, func() error { discarded++; return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("BeginCommit with an ended context = %v, want context.Canceled", err)
	}
	if discarded != 1 {
		t.Errorf("BeginCommit with an ended context discarded %d times, want once", discarded)
	}
}

func TestWriterStateFinished(t *testing.T) {
	for _, finish := range []func(*WriterState){(*WriterState).SetCommitted, (*WriterState).SetClosed} {
		s := NewWriterState("k")
		if err := s.BeginCommit(context.Background(), func() error { t.Error("discard on a writable writer"); return nil }); err != nil {
			t.Fatalf("BeginCommit = %v, want nil", err)
		}
		finish(&s)
		if s.Writing() {
			t.Error("Writing = true after the writer finished")
		}
		if _, err := s.Write([]byte("a"), func(p []byte) (int, error) { return len(p), nil }); err == nil {
			t.Error("Write on a finished writer succeeded")
		}
		if err := s.BeginCommit(context.Background(), func() error { t.Error("discard on a finished writer"); return nil }); err == nil {
			t.Error("BeginCommit on a finished writer succeeded")
		}
	}
}

package storage

import (
	"context"
	"fmt"
)

// writerStage is the stage of a Writer's life.
type writerStage int

const (
	writing writerStage = iota
	committed
	closed // aborted, or a Commit that failed
)

// WriterState holds what the Writers of every backend track the same way:
// whether the writer is still writing, committed or closed, and its first
// write error. That error sticks, so that Commit cannot make an object out
// of the bytes written before the failure. It is not safe for concurrent
// use; a backend calls it under the writer's own lock.
type WriterState struct {
	key   string
	stage writerStage
	err   error
}

// NewWriterState returns the state of a new writer of key.
func NewWriterState(key string) WriterState {
	return WriterState{key: key}
}

// Write passes p to write, unless the writer is finished or an earlier
// write failed. A failure of write sticks.
func (s *WriterState) Write(p []byte, write func([]byte) (int, error)) (int, error) {
	if err := s.usable("write"); err != nil {
		return 0, err
	}
	if s.err != nil {
		return 0, s.err
	}
	n, err := write(p)
	if err != nil {
		s.err = fmt.Errorf("write %s: %w", s.key, err)
		return n, s.err
	}
	return n, nil
}

// BeginCommit returns nil when Commit may make the object. After a failed
// write, or when ctx has ended, it calls discard and returns the reason.
// On a finished writer it returns an error without calling discard.
func (s *WriterState) BeginCommit(ctx context.Context, discard func() error) error {
	if err := s.usable("commit"); err != nil {
		return err
	}
	if s.err != nil {
		discard()
		return fmt.Errorf("commit %s after a failed write: %w", s.key, s.err)
	}
	if err := ctx.Err(); err != nil {
		discard()
		return fmt.Errorf("commit %s: %w", s.key, err)
	}
	return nil
}

// Writing reports whether the writer is neither committed nor closed.
func (s *WriterState) Writing() bool { return s.stage == writing }

// SetCommitted records a successful Commit.
func (s *WriterState) SetCommitted() { s.stage = committed }

// SetClosed records an Abort or a failed Commit.
func (s *WriterState) SetClosed() { s.stage = closed }

// usable returns an error when the writer has already been committed or
// closed.
func (s *WriterState) usable(op string) error {
	switch s.stage {
	case committed:
		return fmt.Errorf("%s %s: writer already committed", op, s.key)
	case closed:
		return fmt.Errorf("%s %s: writer already aborted", op, s.key)
	}
	return nil
}

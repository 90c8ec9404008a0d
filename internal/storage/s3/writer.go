package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"

	"github.com/pullcache/pullcache/internal/storage"
)

// errAborted ends the upload's input when the writer is aborted, so that the
// transfer manager aborts the multipart upload instead of completing it.
var errAborted = errors.New("write aborted")

// Create starts an upload of the object under key. The bytes written go
// through a pipe to the transfer manager, which sends them as one PUT when
// the object fits in a part and as a multipart upload otherwise. Only the end
// of the input, which Commit gives, lets it complete the upload.
func (s *Store) Create(ctx context.Context, key string) (storage.Writer, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// The upload outlives the call that created the writer; Abort and a
	// Commit whose context ends cancel it.
	uploadCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	pr, pw := io.Pipe()
	w := &writer{key: key, pipe: pw, cancel: cancel, done: make(chan struct{}), state: storage.NewWriterState(key)}

	go func() {
		defer close(w.done)
		defer cancel()
		_, err := s.transfers.UploadObject(uploadCtx, &transfermanager.UploadObjectInput{
			Bucket: aws.String(s.bucket),
			Key:    aws.String(s.ObjectKey(key)),
			Body:   pr,
		})
		if err == nil {
			err = errUploadEnded
		}
		// A failed upload stops reading; this makes pending and later
		// Writes fail instead of blocking.
		pr.CloseWithError(err)
		w.result = err
	}()
	return w, nil
}

// errUploadEnded is the result of an upload that completed. Commit expects
// it; any other result is a failure.
var errUploadEnded = errors.New("upload completed")

// writer is a storage.Writer that streams into an S3 upload.
type writer struct {
	key    string
	pipe   *io.PipeWriter
	cancel context.CancelFunc
	done   chan struct{} // closed when the upload goroutine has returned
	result error         // set before done is closed

	mu    sync.Mutex // serializes Abort from another goroutine with Write
	state storage.WriterState
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state.Write(p, w.pipe.Write)
}

// Commit ends the input and waits for the upload to complete, which is the
// moment the object appears. When ctx ends first the upload is aborted.
func (w *writer) Commit(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()

	if err := w.state.BeginCommit(ctx, w.discard); err != nil {
		return err
	}

	w.pipe.Close()
	select {
	case <-w.done:
	case <-ctx.Done():
		w.cancel()
		<-w.done
	}
	if !errors.Is(w.result, errUploadEnded) {
		w.state.SetClosed()
		return fmt.Errorf("commit %s: %w", w.key, w.result)
	}
	w.state.SetCommitted()
	return nil
}

// Abort ends the input with an error, so that the transfer manager aborts
// the multipart upload (or never sends its single PUT), and waits for it.
// It does nothing after Commit or a previous Abort.
func (w *writer) Abort() error {
	// A Write blocked on a stalled upload holds the lock; ending the input
	// first makes it return. After Commit has ended the input this does
	// nothing, because a pipe keeps its first close.
	w.pipe.CloseWithError(errAborted)

	w.mu.Lock()
	defer w.mu.Unlock()

	if !w.state.Writing() {
		return nil
	}
	return w.discard()
}

// discard aborts the upload, waits for it to end and marks the writer
// closed.
func (w *writer) discard() error {
	w.state.SetClosed()
	w.pipe.CloseWithError(errAborted)
	// Requests in flight are canceled; the transfer manager still aborts
	// the multipart upload, with a context of its own.
	w.cancel()
	<-w.done
	if errors.Is(w.result, errUploadEnded) {
		// Unreachable: the input never ended cleanly.
		return fmt.Errorf("abort %s: the upload completed", w.key)
	}
	// Any other result is an upload that failed on its own, which leaves
	// nothing visible either. If the abort request itself failed, the parts
	// stay in the bucket until a start-up aborts them a day later.
	return nil
}

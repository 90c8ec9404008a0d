package upstream

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// responseBody is the body of every response the client reads. It keeps the
// idle watchdog fed, checks the byte count against Content-Length, decodes a
// gzip Content-Encoding and turns read failures into *Error. Close ends the
// request.
type responseBody struct {
	reg      *Registry
	ctx      context.Context // the caller's context
	reqCtx   context.Context // the request's context, cancelled by the watchdog
	cancel   context.CancelCauseFunc
	dog      *watchdog
	raw      io.ReadCloser
	counted  *countingReader
	encoding string
	status   int
	method   string // for Options.OnBody
	kind     string

	decoded   io.Reader // set on the first Read
	closeOnce sync.Once
}

func (r *Registry) newResponseBody(ctx, reqCtx context.Context, cancel context.CancelCauseFunc, dog *watchdog, resp *http.Response) *responseBody {
	// A HEAD response's Content-Length describes the GET body; its own body
	// is empty.
	expected := resp.ContentLength
	if resp.Request.Method == http.MethodHead {
		expected = -1
	}

	return &responseBody{
		reg:      r,
		ctx:      ctx,
		reqCtx:   reqCtx,
		cancel:   cancel,
		dog:      dog,
		raw:      resp.Body,
		counted:  &countingReader{r: resp.Body, dog: dog, expected: expected},
		encoding: contentEncoding(resp.Header),
		status:   resp.StatusCode,
	}
}

func (b *responseBody) Read(p []byte) (int, error) {
	if b.decoded == nil {
		decoded, err := b.decoder()
		if err != nil {
			return 0, b.wrapError(err)
		}
		b.decoded = decoded
	}

	n, err := b.decoded.Read(p)
	if err != nil && err != io.EOF {
		err = b.wrapError(err)
	}

	return n, err
}

// decoder is built lazily because gzip.NewReader reads the gzip header,
// and that read belongs under the same idle timer and error handling as the
// rest of the body.
func (b *responseBody) decoder() (io.Reader, error) {
	switch b.encoding {
	case "", "identity":
		return b.counted, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(b.counted)
		if err != nil {
			return nil, fmt.Errorf("read gzip header: %w", err)
		}

		return zr, nil
	default:
		return nil, &Error{Upstream: b.reg.name, Kind: KindInvalid, Status: b.status,
			Err: fmt.Errorf("unsupported Content-Encoding %q although identity was requested", b.encoding)}
	}
}

func (b *responseBody) wrapError(err error) error {
	if b.ctx.Err() != nil {
		return b.ctx.Err()
	}

	var upErr *Error
	if errors.As(err, &upErr) {
		return err
	}

	e := &Error{Upstream: b.reg.name, Kind: KindUnavailable, Status: b.status}

	var corrupt flate.CorruptInputError
	switch {
	case timedOut(b.reqCtx):
		e.Err = fmt.Errorf("read body: %w", errIdleTimeout)
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt):
		e.Kind = KindInvalid
		e.Err = fmt.Errorf("decode gzip body: %w", err)
	default:
		e.Err = fmt.Errorf("read body: %w", err)
	}

	return e
}

func (b *responseBody) Close() error {
	var err error
	b.closeOnce.Do(func() {
		b.dog.stop()
		err = b.raw.Close()
		b.cancel(context.Canceled)
		if b.reg.opts.OnBody != nil {
			b.reg.opts.OnBody(BodyInfo{Method: b.method, Kind: b.kind, Bytes: b.counted.n})
		}
	})

	return err
}

// countingReader reads the raw (still encoded) body. It feeds the watchdog
// and turns a body that ends before its Content-Length into
// io.ErrUnexpectedEOF, because a transport that reports a clean EOF there
// would let a truncated blob look complete.
type countingReader struct {
	r        io.Reader
	dog      *watchdog
	expected int64 // -1 when unknown
	n        int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.dog.kick()
		c.n += int64(n)
	}

	if c.expected >= 0 && c.n > c.expected {
		return n, fmt.Errorf("body is longer than its Content-Length of %d bytes", c.expected)
	}

	if err == io.EOF && c.expected >= 0 && c.n < c.expected {
		return n, fmt.Errorf("body ended after %d of %d bytes: %w", c.n, c.expected, io.ErrUnexpectedEOF)
	}

	return n, err
}

func contentEncoding(h http.Header) string {
	return strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
}

package upstream

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// blobServer returns 200 for /v2/ and passes every other request to h.
func blobServer(t *testing.T, h http.HandlerFunc) *Registry {
	t.Helper()

	srv := startServer(t, registryIP, pingOK(h))

	return newTestRegistry(t, srv.URL, func(o *Options) { o.IdleReadTimeout = 200 * time.Millisecond })
}

func TestBlobIdleReadTimeout(t *testing.T) {
	stop := release(t)
	reg := blobServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write(bytesOf(10))
		_ = http.NewResponseController(w).Flush()
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	})

	body, size, err := reg.GetBlob(context.Background(), "library/alpine", digest.FromString("blob"))
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	defer body.Close()
	if size != 100 {
		t.Errorf("size = %d, want 100", size)
	}

	start := time.Now()
	got, err := io.ReadAll(body)

	requireKind(t, err, KindUnavailable)
	if !errors.Is(err, errIdleTimeout) {
		t.Errorf("error = %v, want it to wrap the idle timeout", err)
	}
	if len(got) != 10 {
		t.Errorf("read %d bytes before the stall, want 10", len(got))
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("stall detected after %s", elapsed)
	}
}

func TestBlobSlowButSteadyBodyCompletes(t *testing.T) {
	const chunks = 8
	reg := blobServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(chunks))
		for range chunks {
			_, _ = w.Write([]byte("x"))
			_ = http.NewResponseController(w).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	})

	body, _, err := reg.GetBlob(context.Background(), "library/alpine", digest.FromString("blob"))
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	defer body.Close()

	got, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read body taking longer than the idle timeout in total: %v", err)
	}
	if len(got) != chunks {
		t.Errorf("read %d bytes, want %d", len(got), chunks)
	}
}

func TestBlobTruncatedBody(t *testing.T) {
	tests := []struct {
		name string
		reg  func(t *testing.T) *Registry
	}{
		{
			name: "server closes early",
			reg: func(t *testing.T) *Registry {
				return blobServer(t, func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Length", "100")
					_, _ = w.Write(bytesOf(50))
				})
			},
		},
		{
			name: "transport reports clean EOF",
			reg: func(t *testing.T) *Registry {
				return newTestRegistry(t, "http://127.0.0.1:1", func(o *Options) {
					o.Transport = shortBodyTransport{}
				})
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := tt.reg(t)

			body, _, err := reg.GetBlob(context.Background(), "library/alpine", digest.FromString("blob"))
			if err != nil {
				t.Fatalf("GetBlob: %v", err)
			}
			defer body.Close()

			_, err = io.ReadAll(body)

			requireKind(t, err, KindUnavailable)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error = %v, want io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// shortBodyTransport returns, for every request, 200 with Content-Length
// 100 and a body of 50 bytes that ends in a clean io.EOF.
type shortBodyTransport struct{}

func (shortBodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{},
		ContentLength: 100,
		Body:          io.NopCloser(bytes.NewReader(bytesOf(50))),
		Request:       req,
	}, nil
}

func TestBlobGzipContentEncoding(t *testing.T) {
	raw := []byte(strings.Repeat(`{"architecture":"amd64","os":"linux"}`, 50))
	d := digest.FromBytes(raw)

	var mu sync.Mutex
	var acceptEncoding []string
	reg := blobServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		acceptEncoding = append(acceptEncoding, r.Header.Get("Accept-Encoding"))
		mu.Unlock()

		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(raw)
		_ = zw.Close()

		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		_, _ = w.Write(buf.Bytes())
	})

	body, size, err := reg.GetBlob(context.Background(), "library/alpine", d)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	defer body.Close()

	got, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if digest.FromBytes(got) != d {
		t.Errorf("decoded body digest = %s, want %s", digest.FromBytes(got), d)
	}
	if size != -1 {
		t.Errorf("size = %d, want -1 for an encoded body", size)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(acceptEncoding) != 1 || acceptEncoding[0] != "identity" {
		t.Errorf("Accept-Encoding = %q, want identity", acceptEncoding)
	}
}

func TestBlobCorruptGzipIsInvalid(t *testing.T) {
	reg := blobServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write([]byte("not gzip at all"))
	})

	body, _, err := reg.GetBlob(context.Background(), "library/alpine", digest.FromString("blob"))
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	defer body.Close()

	_, err = io.ReadAll(body)

	requireKind(t, err, KindInvalid)
}

func TestContextCanceled(t *testing.T) {
	t.Run("before the request", func(t *testing.T) {
		f := newFakeRegistry(t, "bearer")
		reg := newTestRegistry(t, f.URL())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()

		_, err := reg.GetManifest(ctx, "library/alpine", "3.20")

		if err != context.Canceled {
			t.Errorf("error = %v (%T), want context.Canceled unchanged", err, err)
		}
	})

	t.Run("during the body", func(t *testing.T) {
		stop := release(t)
		reg := blobServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write(bytesOf(10))
			_ = http.NewResponseController(w).Flush()
			select {
			case <-stop:
			case <-r.Context().Done():
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()

		body, _, err := reg.GetBlob(ctx, "library/alpine", digest.FromString("blob"))
		if err != nil {
			t.Fatalf("GetBlob: %v", err)
		}
		defer body.Close()

		buf := make([]byte, 10)
		if _, err := io.ReadFull(body, buf); err != nil {
			t.Fatalf("read first bytes: %v", err)
		}
		cancel()
		_, err = body.Read(buf)

		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}

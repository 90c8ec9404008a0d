package hubsim

import (
	"net"
	"net/http"
	"strconv"
	"time"
)

// defaultSlowChunk is the FaultSlow chunk size when Fault.ChunkSize is zero.
const defaultSlowChunk = 16 << 10

// faultWriter writes a response body and applies a body fault to it on the
// way: a delay per chunk, one inverted byte, or a reset after some bytes.
// With no fault it only passes bytes through.
type faultWriter struct {
	w       http.ResponseWriter
	r       *http.Request
	closing <-chan struct{}
	fault   *Fault
	total   int64 // body length, or -1 when unknown (gzip on the wire)
	written int64
	// chunkSent is how much of the current FaultSlow chunk has been sent.
	chunkSent int
}

func (h *Hub) newFaultWriter(w http.ResponseWriter, r *http.Request, f *Fault, total int64) *faultWriter {
	return &faultWriter{w: w, r: r, closing: h.closing, fault: f, total: total}
}

func (fw *faultWriter) Write(p []byte) (int, error) {
	if fw.fault == nil {
		n, err := fw.w.Write(p)
		fw.written += int64(n)
		return n, err
	}

	sent := 0
	for len(p) > 0 {
		chunk := p
		if fw.fault.Kind == FaultSlow {
			// A chunk may span several Write calls (io.Copy writes at most
			// 32 KiB), so the delay comes once per ChunkSize bytes sent.
			size := cmpInt(fw.fault.ChunkSize, defaultSlowChunk)
			chunk = p[:min(len(p), size-fw.chunkSent)]
			if fw.chunkSent == 0 {
				fw.wait(fw.fault.Delay)
			}
			fw.chunkSent = (fw.chunkSent + len(chunk)) % size
		}

		if fw.fault.Kind == FaultTruncate && fw.written+int64(len(chunk)) > fw.truncateAt() {
			keep := fw.truncateAt() - fw.written
			fw.w.Write(chunk[:keep])
			resetConnection(fw.w)
		}

		if fw.fault.Kind == FaultCorrupt {
			chunk = fw.corrupt(chunk)
		}

		n, err := fw.w.Write(chunk)
		fw.written += int64(n)
		sent += n
		if err != nil {
			return sent, err
		}
		if fw.fault.Kind == FaultSlow {
			http.NewResponseController(fw.w).Flush()
		}
		p = p[len(chunk):]
	}
	return sent, nil
}

// truncateAt is the body offset where FaultTruncate resets the connection.
func (fw *faultWriter) truncateAt() int64 {
	if fw.fault.After > 0 || fw.total < 0 {
		return fw.fault.After
	}
	return fw.total / 2
}

// corrupt returns chunk, copied with one byte inverted when the corrupted
// offset (Fault.After, or else the middle of the body) falls inside it.
func (fw *faultWriter) corrupt(chunk []byte) []byte {
	at := fw.fault.After
	if at == 0 && fw.total > 0 {
		at = fw.total / 2
	}
	if at < fw.written || at >= fw.written+int64(len(chunk)) {
		return chunk
	}

	copied := append([]byte(nil), chunk...)
	copied[at-fw.written] ^= 0xff
	return copied
}

// wait sleeps for d, and aborts the response if the client leaves or the hub
// closes first.
func (fw *faultWriter) wait(d time.Duration) {
	if d <= 0 {
		return
	}

	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-fw.r.Context().Done():
		panic(http.ErrAbortHandler)
	case <-fw.closing:
		panic(http.ErrAbortHandler)
	}
}

func cmpInt(value, fallback int) int {
	if value <= 0 {
		return fallback
	}
	return value
}

// resetConnection flushes what was written and closes the connection with a
// TCP reset, so the client sees a transfer cut short of Content-Length. It
// does not return: it ends the handler with http.ErrAbortHandler, which
// net/http recovers without logging.
func resetConnection(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	rc.Flush()

	conn, _, err := rc.Hijack()
	if err == nil {
		if tcp, ok := conn.(*net.TCPConn); ok {
			tcp.SetLinger(0)
		}
		conn.Close()
	}
	panic(http.ErrAbortHandler)
}

// dropConnection closes the connection without sending anything. When the
// writer cannot be hijacked it aborts the handler, which also closes the
// connection without a response.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

func itoa(n int64) string {
	return strconv.FormatInt(n, 10)
}

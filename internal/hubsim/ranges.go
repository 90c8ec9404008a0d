package hubsim

import (
	"strconv"
	"strings"
)

// rangeKind is the kind of response a blob GET's Range header gets.
type rangeKind int

const (
	rangeNone          rangeKind = iota // no usable Range: send the whole blob with 200
	rangeSingle                         // one satisfiable range: 206
	rangeUnsatisfiable                  // 416 with Content-Range: bytes */SIZE
)

// parseRange reads a Range header for a body of size bytes. Only one range
// is honoured: a header with several ranges, another unit or bad syntax is
// ignored and the whole body is sent, which RFC 9110 allows. end is
// inclusive.
func parseRange(header string, size int64) (start, end int64, kind rangeKind) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, rangeNone
	}

	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, rangeNone
	}

	if first == "" {
		// A suffix range, "bytes=-N", requests the last N bytes.
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, rangeNone
		}
		if n == 0 || size == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		return max(size-n, 0), size - 1, rangeSingle
	}

	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, rangeNone
	}
	end = size - 1
	if last != "" {
		end, err = strconv.ParseInt(last, 10, 64)
		if err != nil || end < start {
			return 0, 0, rangeNone
		}
		end = min(end, size-1)
	}
	if start >= size {
		return 0, 0, rangeUnsatisfiable
	}
	return start, end, rangeSingle
}

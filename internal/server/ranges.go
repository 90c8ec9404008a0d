package server

import (
	"strconv"
	"strings"
)

// byteRange is an inclusive range of a blob, as in a Content-Range header.
type byteRange struct {
	start, end int64
}

func (b byteRange) length() int64 { return b.end - b.start + 1 }

type rangeResult int

const (
	rangeWhole         rangeResult = iota // no Range, several ranges, or a header we do not parse: send everything with 200
	rangePartial                          // one satisfiable range: 206
	rangeUnsatisfiable                    // 416
)

// parseRange reads a Range header for a blob of size bytes. Only one range
// is served partially; a request for several gets the whole blob, which
// RFC 9110 allows a server to do.
func parseRange(header string, size int64) (byteRange, rangeResult) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if header == "" || !ok || strings.Contains(spec, ",") {
		return byteRange{}, rangeWhole
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return byteRange{}, rangeWhole
	}

	if first == "" {
		// A suffix range: the last N bytes.
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return byteRange{}, rangeWhole
		}
		if n == 0 || size == 0 {
			return byteRange{}, rangeUnsatisfiable
		}
		return byteRange{start: max(size-n, 0), end: size - 1}, rangePartial
	}

	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return byteRange{}, rangeWhole
	}
	end := size - 1
	if last != "" {
		end, err = strconv.ParseInt(last, 10, 64)
		if err != nil || end < start {
			return byteRange{}, rangeWhole
		}
		end = min(end, size-1)
	}
	if start >= size {
		return byteRange{}, rangeUnsatisfiable
	}
	return byteRange{start: start, end: end}, rangePartial
}

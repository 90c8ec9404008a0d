package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestProgressBoardPlainLines(t *testing.T) {
	var out bytes.Buffer
	board := newProgressBoard(&out, false)
	ok := board.add("alpine:3.20")
	ok.start(2, 2048)
	ok.addBytes(2048)
	ok.blobDone()
	ok.blobDone()
	ok.finish(warmResult{manifests: 1, layers: 1, bytes: 2048, upstreamPulls: 1}, nil)
	failed := board.add("library/nosuchimage:1")
	failed.finish(warmResult{}, errors.New("GET /v2/library/nosuchimage/manifests/1: 404 Not Found"))
	board.close()

	want := "alpine:3.20: 2 blobs, 2.0 KiB\n" +
		"alpine:3.20: done: 1 manifest, 1 layer, 2.0 KiB, 1 upstream pull\n" +
		"library/nosuchimage:1: failed: GET /v2/library/nosuchimage/manifests/1: 404 Not Found\n"
	if got := out.String(); got != want {
		t.Errorf("plain output:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("plain output contains terminal escape sequences")
	}
}

func TestProgressBoardBars(t *testing.T) {
	var out bytes.Buffer
	board := newProgressBoard(&out, true)
	half := board.add("alpine:3.20")
	half.start(2, 1000)
	half.addBytes(500)
	half.blobDone()
	failed := board.add("library/nosuchimage:1")
	failed.finish(warmResult{}, errors.New("404"))
	board.close()

	got := out.String()
	wantHalf := "alpine:3.20" + strings.Repeat(" ", 40-len("alpine:3.20")) + " [" + strings.Repeat("=", barWidth/2) + strings.Repeat(" ", barWidth/2) + "] 1/2 blobs 500 B/1000 B"
	if !strings.Contains(got, wantHalf) {
		t.Errorf("bar output %q does not contain the half-done bar %q", got, wantHalf)
	}
	if !strings.Contains(got, "library/nosuchimage:1") || !strings.Contains(got, "FAILED") {
		t.Errorf("bar output %q does not mark library/nosuchimage:1 as FAILED", got)
	}
	if !strings.Contains(got, "\x1b[2K") {
		t.Errorf("bar output %q does not clear lines as it redraws them", got)
	}
}

package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pullcache/pullcache/internal/evict"
)

func TestPrintGCResultDryRunListsLeftovers(t *testing.T) {
	var out bytes.Buffer
	res := evict.GCResult{Leftovers: 1, LeftoverBytes: 11, LeftoverPaths: []string{".tmp/write-123"}}
	printGCResult(&out, res, true, "1h0m0s")
	if !strings.Contains(out.String(), ".tmp/write-123\n") {
		t.Errorf("dry-run output does not list the leftover file:\n%s", out.String())
	}
}

func TestPrintGCResultReportsUndecodable(t *testing.T) {
	var out bytes.Buffer
	key := "repositories/docker.io/library/broken/_tags/latest"
	printGCResult(&out, evict.GCResult{Undecodable: []string{key}}, false, "1h0m0s")
	if !strings.Contains(out.String(), "1 tag record does not decode") || !strings.Contains(out.String(), key) {
		t.Errorf("output does not report the undecodable record:\n%s", out.String())
	}
}

package cache

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/logging"
	"github.com/pullcache/pullcache/internal/testlog"
)

// jsonRecords decodes the JSON log lines with message msg.
func jsonRecords(t *testing.T, logs string, msg string) []map[string]any {
	t.Helper()
	var records []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		if rec["msg"] == msg {
			records = append(records, rec)
		}
	}
	return records
}

func newLoggingFixture(t *testing.T, logs *testlog.Buffer) *fixture {
	t.Helper()
	return newFixture(t, time.Minute, func(o *Options) {
		o.Logger = logging.New(logs, logging.Options{Format: "json"})
	})
}

func TestFetchLogsCarryRequestID(t *testing.T) {
	logs := &testlog.Buffer{}
	f := newLoggingFixture(t, logs)
	f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))
	d := f.up.putBlob([]byte("layer bytes"))
	ctx := logging.WithRequestID(context.Background(), "req-1")

	if _, err := f.cache.GetManifest(ctx, testUpstream, testRepo, "v1"); err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	blob, err := f.cache.GetBlob(ctx, testUpstream, testRepo, d)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	if _, err := readBlob(t, blob, 0); err != nil {
		t.Fatalf("read blob: %v", err)
	}
	blob.Close()
	waitFetchDone(t, f.cache, d)

	for _, msg := range []string{"fetched manifest", "stored blob"} {
		records := jsonRecords(t, logs.String(), msg)
		if len(records) != 1 {
			t.Errorf("%d %q records, want 1:\n%s", len(records), msg, logs.String())
			continue
		}
		if got := records[0]["request_id"]; got != "req-1" {
			t.Errorf("%q record has request_id %v, want req-1", msg, got)
		}
	}
	if records := jsonRecords(t, logs.String(), "fetched manifest"); len(records) == 1 && records[0]["stored"] != true {
		t.Errorf("fetched manifest record has stored=%v, want true", records[0]["stored"])
	}
}

func TestBypassLogsCarryRequestID(t *testing.T) {
	logs := &testlog.Buffer{}
	f := newLoggingFixture(t, logs)
	store := &toggledFullStore{Store: f.store}
	store.full.Store(true)
	f.cache.store = store
	f.up.putManifest(testRepo, "v1", mediaTypeOCI, manifestBody(1))
	ctx := logging.WithRequestID(context.Background(), "req-2")

	res, err := f.cache.GetManifest(ctx, testUpstream, testRepo, "v1")
	if err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	if res.Status != StatusBypass {
		t.Fatalf("GET v1 on a full store: status %s, want BYPASS", res.Status)
	}

	failed := jsonRecords(t, logs.String(), "store write failed; serving from upstream without storing")
	if len(failed) == 0 {
		t.Fatalf("no store write failure logged:\n%s", logs.String())
	}
	if got := failed[0]["request_id"]; got != "req-2" {
		t.Errorf("store write failure has request_id %v, want req-2", got)
	}
	fetched := jsonRecords(t, logs.String(), "fetched manifest")
	if len(fetched) != 1 {
		t.Fatalf("%d fetched manifest records, want 1:\n%s", len(fetched), logs.String())
	}
	if fetched[0]["stored"] != false {
		t.Errorf("fetched manifest record of a BYPASS has stored=%v, want false", fetched[0]["stored"])
	}
}

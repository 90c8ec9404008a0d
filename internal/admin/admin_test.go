package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestReadyz(t *testing.T) {
	var storeErr error
	h := New(func(context.Context) error { return storeErr })

	if code, _ := get(t, h, "/readyz"); code != http.StatusOK {
		t.Errorf("ready store: /readyz = %d, want 200", code)
	}

	storeErr = errors.New("open data directory: permission denied")
	code, body := get(t, h, "/readyz")
	if code != http.StatusServiceUnavailable {
		t.Errorf("failing store: /readyz = %d, want 503", code)
	}
	if !strings.Contains(body, "permission denied") {
		t.Errorf("failing store: body %q does not name the cause", body)
	}

	storeErr = nil
	h.SetStopping()
	if code, _ := get(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("stopping: /readyz = %d, want 503", code)
	}
	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Errorf("stopping: /healthz = %d, want 200", code)
	}
}

func TestHealthzReportsStoreWrites(t *testing.T) {
	h := New(func(context.Context) error { return nil })
	health := func() Health {
		t.Helper()
		code, body := get(t, h, "/healthz")
		if code != http.StatusOK {
			t.Fatalf("/healthz = %d, want 200", code)
		}
		var out Health
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("/healthz body %q: %v", body, err)
		}
		return out
	}

	if got := health(); got.Status != "ok" || got.StoreWrites.Failing {
		t.Errorf("fresh handler: %+v, want ok", got)
	}

	var reporter StoreWriteReporter = Reporters{h}
	reporter.StoreWriteFailed(fmt.Errorf("write blob: %w", syscall.ENOSPC))
	got := health()
	if got.Status != "degraded" || !got.StoreWrites.Failing || got.StoreWrites.Errors != 1 || !strings.Contains(got.StoreWrites.LastError, "no space left") {
		t.Errorf("after a full disk: %+v, want degraded with the error", got)
	}
	if code, _ := get(t, h, "/readyz"); code != http.StatusOK {
		t.Errorf("after a full disk: /readyz = %d, want 200: pulls are still served", code)
	}

	reporter.StoreWriteSucceeded()
	if got := health(); got.Status != "ok" || got.StoreWrites.Errors != 1 {
		t.Errorf("after a good write: %+v, want ok with the error still counted", got)
	}
}

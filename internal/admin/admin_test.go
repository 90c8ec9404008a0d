package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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

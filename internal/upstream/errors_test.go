package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const quotaBody = `{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"}]}`

func TestTooManyRequestsClassification(t *testing.T) {
	clock := newFakeClock()

	tests := []struct {
		name           string
		body           string
		header         map[string]string
		want           Kind
		wantCode       string
		wantRetryAfter time.Duration
	}{
		{
			name:           "pull quota JSON with seconds",
			body:           quotaBody,
			header:         map[string]string{"Retry-After": "3600", "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600"},
			want:           KindQuota,
			wantCode:       "TOOMANYREQUESTS",
			wantRetryAfter: time.Hour,
		},
		{
			name: "pull quota lower case",
			body: "toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limits",
			want: KindQuota,
		},
		{
			name:   "remaining zero with empty body",
			header: map[string]string{"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600"},
			want:   KindQuota,
		},
		{
			name:           "abuse limit with HTTP date",
			body:           "Too Many Requests (HAP429).\n",
			header:         map[string]string{"Retry-After": clock.Now().Add(90 * time.Second).Format(http.TimeFormat)},
			want:           KindAbuseLimit,
			wantRetryAfter: 90 * time.Second,
		},
		{
			name: "hub web API JSON",
			body: `{"detail": "Rate limit exceeded", "error": false}`,
			want: KindTooManyRequests,
		},
		{
			name: "empty body",
			want: KindTooManyRequests,
		},
		{
			name: "long plain body",
			body: strings.Repeat("slow down ", 40),
			want: KindTooManyRequests,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRegistry(t, "none")
			f.handler = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/v2/" {
					return false
				}
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(tt.body))
				return true
			}
			reg := newTestRegistry(t, f.URL(), func(o *Options) { o.Clock = clock.Now })

			_, err := reg.GetManifest(context.Background(), "library/alpine", "3.20")

			e := requireKind(t, err, tt.want)
			if e.Status != http.StatusTooManyRequests {
				t.Errorf("status = %d", e.Status)
			}
			if e.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", e.Code, tt.wantCode)
			}
			if e.RetryAfter != tt.wantRetryAfter {
				t.Errorf("RetryAfter = %s, want %s", e.RetryAfter, tt.wantRetryAfter)
			}
		})
	}
}

func TestTooManyRequestsOnHeadRecordsRateLimit(t *testing.T) {
	f := newFakeRegistry(t, "none")
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v2/" {
			return false
		}
		w.Header().Set("ratelimit-limit", "100;w=21600")
		w.Header().Set("ratelimit-remaining", "0;w=21600")
		w.Header().Set("docker-ratelimit-source", "203.0.113.7")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	reg := newTestRegistry(t, f.URL())

	_, err := reg.HeadManifest(context.Background(), "library/alpine", "3.20")

	requireKind(t, err, KindQuota)
	rl, ok := reg.RateLimit()
	if !ok {
		t.Fatal("RateLimit not recorded from the 429")
	}
	if rl.Remaining != 0 || rl.Limit != 100 || rl.Source != "203.0.113.7" {
		t.Errorf("RateLimit = %+v", rl)
	}
}

func TestUnavailable(t *testing.T) {
	tests := []struct {
		name       string
		handler    func(stop <-chan struct{}) http.HandlerFunc
		closed     bool // the registry's port has no listener
		wantStatus int
		wantErr    error
	}{
		{
			name: "500",
			handler: func(<-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "oops", http.StatusInternalServerError) }
			},
			wantStatus: http.StatusInternalServerError,
		},
		{
			name: "503 with Retry-After",
			handler: func(<-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Retry-After", "7")
					writeOCIError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "maintenance")
				}
			},
			wantStatus: http.StatusServiceUnavailable,
		},
		{
			name:   "connection refused",
			closed: true,
		},
		{
			name: "connection dropped",
			handler: func(<-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, _ *http.Request) {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						_ = conn.Close()
					}
				}
			},
		},
		{
			name: "no response headers",
			handler: func(stop <-chan struct{}) http.HandlerFunc {
				return func(_ http.ResponseWriter, r *http.Request) {
					select {
					case <-stop:
					case <-r.Context().Done():
					}
				}
			},
			wantErr: errIdleTimeout,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := closedURL(t)
			if !tt.closed {
				url = startServer(t, registryIP, pingOK(tt.handler(release(t)))).URL
			}
			reg := newTestRegistry(t, url, func(o *Options) { o.IdleReadTimeout = 200 * time.Millisecond })

			start := time.Now()
			_, err := reg.GetManifest(context.Background(), "library/alpine", "3.20")

			e := requireKind(t, err, KindUnavailable)
			if e.Status != tt.wantStatus {
				t.Errorf("status = %d, want %d", e.Status, tt.wantStatus)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want it to wrap %v", err, tt.wantErr)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("took %s", elapsed)
			}
		})
	}
}

// pingOK returns 200 for /v2/ and passes everything else to h, so a fault
// hits the API request rather than the ping.
func pingOK(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// closedURL returns an http URL on loopback where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()

	l, err := net.Listen("tcp", registryIP+":0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()

	return "http://" + addr
}

func TestErrorMessageIsOneLineAndCapped(t *testing.T) {
	long := "first line\nsecond line " + strings.Repeat("é", 300)
	f := newFakeRegistry(t, "none")
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v2/" {
			return false
		}
		writeOCIError(w, http.StatusNotFound, "NAME_UNKNOWN", long)
		return true
	}
	reg := newTestRegistry(t, f.URL())

	_, err := reg.GetManifest(context.Background(), "library/alpine", "3.20")

	e := requireKind(t, err, KindNotFound)
	if strings.Contains(e.Message, "\n") {
		t.Errorf("message has a newline: %q", e.Message)
	}
	if len(e.Message) > maxMessageLength+len("…") {
		t.Errorf("message length = %d, want at most %d", len(e.Message), maxMessageLength)
	}
	if !strings.HasPrefix(e.Message, "first line second line") {
		t.Errorf("message = %q", e.Message)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	tests := []struct {
		value string
		want  time.Duration
	}{
		{value: "", want: 0},
		{value: "0", want: 0},
		{value: "120", want: 2 * time.Minute},
		{value: "-5", want: 0},
		{value: now.Add(time.Minute).Format(http.TimeFormat), want: time.Minute},
		{value: now.Add(-time.Minute).Format(http.TimeFormat), want: 0},
		{value: "soon", want: 0},
	}

	for _, tt := range tests {
		if got := parseRetryAfter(tt.value, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.value, got, tt.want)
		}
	}
}

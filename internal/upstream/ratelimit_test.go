package upstream

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestParseRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	tests := []struct {
		name   string
		header http.Header
		want   RateLimit
		wantOK bool
	}{
		{
			name: "six hour window",
			header: http.Header{
				"Ratelimit-Limit":         {"100;w=21600"},
				"Ratelimit-Remaining":     {"76;w=21600"},
				"Docker-Ratelimit-Source": {"203.0.113.7"},
			},
			want:   RateLimit{Limit: 100, Remaining: 76, Window: 6 * time.Hour, Source: "203.0.113.7", Seen: now},
			wantOK: true,
		},
		{
			name: "hourly window",
			header: http.Header{
				"Ratelimit-Limit":     {"10;w=3600"},
				"Ratelimit-Remaining": {"0;w=3600"},
			},
			want:   RateLimit{Limit: 10, Remaining: 0, Window: time.Hour, Seen: now},
			wantOK: true,
		},
		{
			name: "non-canonical names and account source",
			header: http.Header{
				"ratelimit-limit":         {"200;w=21600"},
				"RATELIMIT-REMAINING":     {"199;w=21600"},
				"docker-ratelimit-source": {"8d7c4f7e-4e5b-4bd2-9a5f-1e1c0a0b0c0d"},
			},
			want:   RateLimit{Limit: 200, Remaining: 199, Window: 6 * time.Hour, Source: "8d7c4f7e-4e5b-4bd2-9a5f-1e1c0a0b0c0d", Seen: now},
			wantOK: true,
		},
		{
			name:   "missing window",
			header: http.Header{"Ratelimit-Limit": {"100"}, "Ratelimit-Remaining": {"5"}},
			want:   RateLimit{Limit: 100, Remaining: 5, Seen: now},
			wantOK: true,
		},
		{
			name:   "spaces and list form",
			header: http.Header{"Ratelimit-Limit": {" 100 ; w = 21600, 500;w=86400"}, "Ratelimit-Remaining": {"50; w=21600"}},
			want:   RateLimit{Limit: 100, Remaining: 50, Window: 6 * time.Hour, Seen: now},
			wantOK: true,
		},
		{name: "no headers", header: http.Header{}},
		{name: "limit only", header: http.Header{"Ratelimit-Limit": {"100;w=21600"}}},
		{name: "remaining only", header: http.Header{"Ratelimit-Remaining": {"0;w=21600"}}},
		{name: "garbage", header: http.Header{"Ratelimit-Limit": {"lots"}, "Ratelimit-Remaining": {"some"}}},
		{name: "negative", header: http.Header{"Ratelimit-Limit": {"-1"}, "Ratelimit-Remaining": {"0"}}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseRateLimit(tt.header, now)

			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if got != tt.want {
				t.Errorf("RateLimit = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRateLimitTrackedOnHeadAndGet(t *testing.T) {
	f := newFakeRegistry(t, "bearer")
	f.addManifest("library/alpine", "3.20", fakeManifest{mediaType: MediaTypeOCIManifest, body: testManifestBody})
	remaining := 10
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v2/" {
			f.mu.Lock()
			n := remaining
			f.mu.Unlock()
			w.Header().Set("ratelimit-limit", "100;w=21600")
			w.Header().Set("ratelimit-remaining", strconv.Itoa(n)+";w=21600")
			w.Header().Set("docker-ratelimit-source", "203.0.113.7")
		}
		return false
	}
	clock := newFakeClock()
	reg := newTestRegistry(t, f.URL(), func(o *Options) { o.Clock = clock.Now })
	ctx := context.Background()

	if _, ok := reg.RateLimit(); ok {
		t.Fatal("RateLimit reported before any response")
	}

	if _, err := reg.HeadManifest(ctx, "library/alpine", "3.20"); err != nil {
		t.Fatalf("HeadManifest: %v", err)
	}
	rl, ok := reg.RateLimit()
	if !ok || rl.Remaining != 10 || rl.Window != 6*time.Hour || !rl.Seen.Equal(clock.Now()) {
		t.Errorf("after HEAD: RateLimit = %+v, ok %v", rl, ok)
	}

	f.mu.Lock()
	remaining = 9
	f.mu.Unlock()
	clock.Advance(time.Minute)

	if _, err := reg.GetManifest(ctx, "library/alpine", "3.20"); err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	rl, ok = reg.RateLimit()
	if !ok || rl.Remaining != 9 || !rl.Seen.Equal(clock.Now()) {
		t.Errorf("after GET: RateLimit = %+v, ok %v", rl, ok)
	}
}

package upstream

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"
)

// formatChallenges writes challenges back as one WWW-Authenticate value,
// every parameter quoted.
func formatChallenges(challenges []authChallenge) string {
	var parts []string
	for _, c := range challenges {
		var params []string
		for name, value := range c.params {
			escaped := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value)
			params = append(params, name+`="`+escaped+`"`)
		}
		if len(params) == 0 {
			parts = append(parts, c.scheme)
			continue
		}
		parts = append(parts, c.scheme+" "+strings.Join(params, ", "))
	}
	return strings.Join(parts, ", ")
}

// FuzzParseWWWAuthenticate checks that any header value parses without a
// panic into lower-case schemes and parameter names, and that writing the
// challenges back and parsing them again gives the same challenges.
func FuzzParseWWWAuthenticate(f *testing.F) {
	for _, seed := range []string{
		`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`,
		`Basic realm="Registry Realm"`,
		`Bearer realm="https://ghcr.io/token",scope="repository:a/b:pull,push", Basic realm="x"`,
		`Bearer realm="a\"b\\c"`,
		`Basic abc==`,
		`, ,Bearer`,
		`Bearer realm=unquoted, error="insufficient_scope"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		challenges := parseWWWAuthenticate(value)

		for _, c := range challenges {
			if c.scheme == "" || c.scheme != strings.ToLower(c.scheme) || strings.ContainsAny(c.scheme, " \t,=\"") {
				t.Fatalf("parse %q: invalid scheme %q", value, c.scheme)
			}
			for name := range c.params {
				if name == "" || name != strings.ToLower(name) {
					t.Fatalf("parse %q: invalid parameter name %q", value, name)
				}
			}
		}

		formatted := formatChallenges(challenges)
		again := parseWWWAuthenticate(formatted)
		if len(again) != len(challenges) {
			t.Fatalf("parse %q: %d challenges; written back as %q they parse to %d", value, len(challenges), formatted, len(again))
		}
		for i := range challenges {
			if again[i].scheme != challenges[i].scheme || !maps.Equal(again[i].params, challenges[i].params) {
				t.Fatalf("parse %q: challenge %d is %+v; written back as %q it parses to %+v", value, i, challenges[i], formatted, again[i])
			}
		}
	})
}

// FuzzParseRateLimit checks that any pair of rate-limit headers parses
// without a panic into counts and a window that are not negative, and that
// the values written back in Docker Hub's form parse to the same result.
func FuzzParseRateLimit(f *testing.F) {
	for _, seed := range [][2]string{
		{"100;w=21600", "76;w=21600"},
		{"100", "0"},
		{"10, 10;w=1, 50;w=60", "9;w=1"},
		{"100;W=3600", " 5 ; w = 3600 "},
		{"-1;w=60", "1"},
		{"1;w=9223372036854775807", "1"},
	} {
		f.Add(seed[0], seed[1])
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, limit, remaining string) {
		h := http.Header{}
		h.Set("RateLimit-Limit", limit)
		h.Set("RateLimit-Remaining", remaining)

		rl, ok := ParseRateLimit(h, now)
		if !ok {
			return
		}
		if rl.Limit < 0 || rl.Remaining < 0 || rl.Window < 0 {
			t.Fatalf("ParseRateLimit(%q, %q) = %+v: negative value", limit, remaining, rl)
		}

		seconds := int64(rl.Window / time.Second)
		h.Set("RateLimit-Limit", fmt.Sprintf("%d;w=%d", rl.Limit, seconds))
		h.Set("RateLimit-Remaining", fmt.Sprintf("%d;w=%d", rl.Remaining, seconds))
		again, ok := ParseRateLimit(h, now)
		if !ok || again != rl {
			t.Fatalf("ParseRateLimit(%q, %q) = %+v; written back it parses to %+v, %v", limit, remaining, rl, again, ok)
		}
	})
}

package repoglob

import (
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern string
		name    string
		want    bool
	}{
		{"library/alpine", "library/alpine", true},
		{"library/alpine", "library/alpine2", false},
		{"library/alpine", "x/library/alpine", false},
		{"library/*", "library/alpine", true},
		{"library/*", "library/a/b", false},
		{"library/*", "library", false},
		{"*/app", "owner/app", true},
		{"*/app", "a/b/app", false},
		{"myorg/**", "myorg/app", true},
		{"myorg/**", "myorg/team/app", true},
		{"myorg/**", "myorg", false},
		{"myorg/**", "myorgx/app", false},
		{"**/cache", "cache", true},
		{"**/cache", "a/b/cache", true},
		{"**/cache", "a/bcache", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/xb", false},
		{"**", "anything/at/all", true},
		{"my**", "myorg/x", true},
		{"app-?", "app-1", true},
		{"app-?", "app-12", false},
		{"a?b", "a/b", false},
		{"app-[0-9]", "app-7", true},
		{"app-[0-9]", "app-x", false},
		{"app-[^0-9]", "app-x", true},
		{"app-[^0-9]", "app-7", false},
		{"a[^x]b", "a/b", false},
		{"app.io", "app.io", true},
		{"app.io", "appxio", false},
		{`app\.io`, "app.io", true},
		{"a[-_]b", "a-b", true},
		{"a[-_]b", "a_b", true},
		{"a[-_]b", "a.b", false},
	}
	for _, tt := range tests {
		g, err := Compile(tt.pattern)
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.pattern, err)
			continue
		}
		if got := g.Match(tt.name); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestGlobRejects(t *testing.T) {
	tests := []struct {
		pattern string
		want    string
	}{
		{"", "empty pattern"},
		{"/library/*", "never starts or ends with /"},
		{"library/", "never starts or ends with /"},
		{"Library/*", "lower case"},
		{"lib rary", "contain only"},
		{"a***", "***"},
		{"app-[0-9", "missing ]"},
		{"app-[]", "empty character class"},
		{"app-[9-0]", "invalid range"},
		{`app\`, "trailing"},
		{`a:b`, "contain only"},
		{"app-[A-Z]", "lower case"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.pattern)
		if err == nil {
			t.Errorf("Compile(%q) succeeded, want an error containing %q", tt.pattern, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compile(%q) error %q, want it to contain %q", tt.pattern, err, tt.want)
		}
	}
}

func TestCompileAllNamesPattern(t *testing.T) {
	_, err := CompileAll([]string{"library/*", "Bad"})
	if err == nil || !strings.Contains(err.Error(), `"Bad"`) {
		t.Errorf("CompileAll error %v, want one naming the pattern \"Bad\"", err)
	}
	globs, err := CompileAll([]string{"library/*", "myorg/**"})
	if err != nil || len(globs) != 2 || globs[1].String() != "myorg/**" {
		t.Errorf("CompileAll = %v, %v", globs, err)
	}
}

package repoglob

import "testing"

func TestMatch(t *testing.T) {
	tests := []struct {
		glob, repo string
		want       bool
	}{
		{"library/*", "library/alpine", true},
		{"library/*", "library/alpine/extra", false},
		{"library/*", "myorg/alpine", false},
		{"myorg/**", "myorg/team/app", true},
		{"myorg/**", "myorg/app", true},
		{"**", "a/b/c", true},
		{"library/alp?ne", "library/alpine", true},
		{"library/[ab]*", "library/busybox", true},
		{"library/[!ab]*", "library/busybox", false},
		{"library/alpine", "library/alpine", true},
		{"library/a.c", "library/abc", false},
	}
	for _, tt := range tests {
		p, err := Compile(tt.glob)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.glob, err)
		}
		if got := p.Match(tt.repo); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.glob, tt.repo, got, tt.want)
		}
	}
}

func TestCompileRejects(t *testing.T) {
	for _, glob := range []string{"", "library/[abc", `library/\`} {
		if _, err := Compile(glob); err == nil {
			t.Errorf("Compile(%q) succeeded, want an error", glob)
		}
	}
}

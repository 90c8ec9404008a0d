// Package repoglob matches repository names against the globs that
// configuration keys such as a fallback's repositories list use: path.Match
// syntax, where * and ? stay within one path element, plus ** that crosses
// slashes ("myorg/**" matches every repository under myorg).
package repoglob

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Pattern is a compiled glob.
type Pattern struct {
	glob string
	re   *regexp.Regexp
}

// Compile checks glob and compiles it.
func Compile(glob string) (Pattern, error) {
	if glob == "" {
		return Pattern{}, fmt.Errorf("empty pattern")
	}
	// path.Match reports a malformed pattern (an unclosed [, a trailing
	// backslash) only when it gets that far, so check each element
	// against a name it must read to the end.
	for _, elem := range strings.Split(strings.ReplaceAll(glob, "**", "*"), "/") {
		if _, err := path.Match(elem, strings.Repeat("x", len(elem))); err != nil {
			return Pattern{}, fmt.Errorf("invalid pattern %q: %w", glob, err)
		}
	}

	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch ch := glob[i]; ch {
		case '*':
			if i+1 < len(glob) && glob[i+1] == '*' {
				b.WriteString(".*")
				i++
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '[':
			end := strings.IndexByte(glob[i+1:], ']')
			class := glob[i+1 : i+1+end]
			if strings.HasPrefix(class, "^") || strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += end + 1
		case '\\':
			i++
			b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
		default:
			b.WriteString(regexp.QuoteMeta(string(ch)))
		}
	}
	b.WriteString("$")

	re, err := regexp.Compile(b.String())
	if err != nil {
		return Pattern{}, fmt.Errorf("invalid pattern %q: %w", glob, err)
	}
	return Pattern{glob: glob, re: re}, nil
}

// Match reports whether repo matches the pattern.
func (p Pattern) Match(repo string) bool { return p.re.MatchString(repo) }

// String returns the glob as written.
func (p Pattern) String() string { return p.glob }

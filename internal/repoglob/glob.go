// Package repoglob matches repository names against the globs of the
// configuration: an upstream's allow and deny patterns and a fallback's
// repositories. They are path.Match-style globs in which ** also crosses
// slashes.
package repoglob

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Glob is a compiled repository pattern. Its syntax, by example:
//
//	library/*      * matches any run of characters other than /
//	app-?          ? matches one character other than /
//	app-[0-9]      a class matches one character of it; [^0-9] one outside it, never /
//	myorg/**       ** matches any run of characters, / included
//	**/cache       **/ also matches no component: cache and a/b/cache
//	app\.io        \c matches the character c itself
type Glob struct {
	pattern string
	re      *regexp.Regexp
}

// Compile parses pattern. It rejects patterns that can never match a
// repository name, such as ones with upper-case letters or a leading /, so
// that a typing mistake in the configuration shows at start-up instead of
// as a pattern that silently matches nothing.
func Compile(pattern string) (*Glob, error) {
	if pattern == "" {
		return nil, errors.New("empty pattern")
	}
	if strings.HasPrefix(pattern, "/") || strings.HasSuffix(pattern, "/") {
		return nil, errors.New("a repository name never starts or ends with /")
	}
	expr, err := translate(pattern)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("translate to a regular expression: %w", err)
	}
	return &Glob{pattern: pattern, re: re}, nil
}

// CompileAll compiles every pattern, or returns the first error with the
// pattern it belongs to. It returns nil for a nil list, which keeps "no
// allow list" distinct from an empty one.
func CompileAll(patterns []string) ([]*Glob, error) {
	if patterns == nil {
		return nil, nil
	}
	globs := make([]*Glob, 0, len(patterns))
	for _, p := range patterns {
		g, err := Compile(p)
		if err != nil {
			return nil, fmt.Errorf("invalid pattern %q: %w", p, err)
		}
		globs = append(globs, g)
	}
	return globs, nil
}

// Match reports whether the whole repository name matches.
func (g *Glob) Match(name string) bool { return g.re.MatchString(name) }

// String returns the pattern as written.
func (g *Glob) String() string { return g.pattern }

// translate turns a glob into an anchored regular expression.
func translate(pattern string) (string, error) {
	var b strings.Builder
	b.WriteString(`^`)
	runes := []rune(pattern)

	for i := 0; i < len(runes); i++ {
		c := runes[i]
		switch {
		case c == '*' && i+1 < len(runes) && runes[i+1] == '*':
			if i+2 < len(runes) && runes[i+2] == '*' {
				return "", errors.New("*** is not a pattern; use * within a component or ** across them")
			}
			startsComponent := i == 0 || runes[i-1] == '/'
			if startsComponent && i+2 < len(runes) && runes[i+2] == '/' {
				b.WriteString(`(?:.*/)?`)
				i += 2
			} else {
				b.WriteString(`.*`)
				i++
			}
		case c == '*':
			b.WriteString(`[^/]*`)
		case c == '?':
			b.WriteString(`[^/]`)
		case c == '[':
			end, class, err := translateClass(runes, i)
			if err != nil {
				return "", err
			}
			b.WriteString(class)
			i = end
		case c == '\\':
			if i+1 == len(runes) {
				return "", errors.New("trailing \\ escapes nothing")
			}
			i++
			if err := checkLiteral(runes[i]); err != nil {
				return "", err
			}
			b.WriteString(regexp.QuoteMeta(string(runes[i])))
		default:
			if err := checkLiteral(c); err != nil {
				return "", err
			}
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}

	b.WriteString(`$`)
	return b.String(), nil
}

// checkLiteral rejects characters that no repository name contains: the
// OCI distribution grammar allows only [a-z0-9], '.', '_', '-' and '/'.
func checkLiteral(c rune) error {
	switch {
	case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '_', c == '-', c == '/':
		return nil
	case unicode.IsUpper(c):
		return fmt.Errorf("%q never matches: repository names are lower case", c)
	default:
		return fmt.Errorf("%q never matches: repository names contain only a-z, 0-9, '.', '_', '-' and '/'", c)
	}
}

// translateClass translates the class that starts at runes[start] == '['.
// It returns the index of the closing ']' and the class as a regular
// expression in which every character is written as \x{...}.
func translateClass(runes []rune, start int) (int, string, error) {
	var b strings.Builder
	b.WriteString(`[`)
	i := start + 1
	if i < len(runes) && runes[i] == '^' {
		// A negated class never matches /, as * and ? do not.
		b.WriteString(`^/`)
		i++
	}

	items := 0
	for ; i < len(runes) && runes[i] != ']'; i++ {
		lo, next, err := classChar(runes, i)
		if err != nil {
			return 0, "", err
		}
		if err := checkLiteral(lo); err != nil {
			return 0, "", err
		}
		i = next
		hi := lo
		if i+2 < len(runes) && runes[i+1] == '-' && runes[i+2] != ']' {
			hi, next, err = classChar(runes, i+2)
			if err != nil {
				return 0, "", err
			}
			if err := checkLiteral(hi); err != nil {
				return 0, "", err
			}
			if hi < lo {
				return 0, "", fmt.Errorf("invalid range %c-%c in a character class", lo, hi)
			}
			i = next
		}
		fmt.Fprintf(&b, `\x{%x}`, lo)
		if hi != lo {
			fmt.Fprintf(&b, `-\x{%x}`, hi)
		}
		items++
	}

	if i == len(runes) {
		return 0, "", errors.New("missing ] after [")
	}
	if items == 0 {
		return 0, "", errors.New("empty character class []")
	}
	b.WriteString(`]`)
	return i, b.String(), nil
}

// classChar returns the character at runes[i] inside a class, resolving a
// \ escape, and the index of its last rune.
func classChar(runes []rune, i int) (rune, int, error) {
	if runes[i] != '\\' {
		return runes[i], i, nil
	}
	if i+1 == len(runes) {
		return 0, 0, errors.New("missing ] after [")
	}
	return runes[i+1], i + 1, nil
}

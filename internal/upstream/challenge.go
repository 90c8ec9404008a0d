package upstream

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// authChallenge is one challenge of a WWW-Authenticate header (RFC 9110
// section 11.6.1): a scheme and its parameters, names in lower case.
type authChallenge struct {
	scheme string
	params map[string]string
}

// parseChallenge reads the registry's WWW-Authenticate headers and returns
// the Bearer challenge, or else the Basic one. ok is false when neither is
// present. A realm that the safety policy rejects is an error, returned
// before any connection to it.
func (r *Registry) parseChallenge(h http.Header) (challenge, bool, error) {
	var found []authChallenge
	for _, v := range h.Values("WWW-Authenticate") {
		found = append(found, parseWWWAuthenticate(v)...)
	}

	for _, c := range found {
		if c.scheme != "bearer" || c.params["realm"] == "" {
			continue
		}

		realm, err := r.parseRealm(c.params["realm"])
		if err != nil {
			return challenge{}, false, err
		}

		return challenge{scheme: schemeBearer, realm: realm, service: c.params["service"]}, true, nil
	}

	for _, c := range found {
		if c.scheme == "basic" {
			return challenge{scheme: schemeBasic}, true, nil
		}
	}

	return challenge{}, false, nil
}

func (r *Registry) parseRealm(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &Error{Upstream: r.name, Kind: KindInvalid, Err: fmt.Errorf("parse token realm %q: %w", raw, err)}
	}

	// A relative realm is resolved like a relative Location.
	u = r.base.ResolveReference(u)

	if err := r.policy.checkURL(u); err != nil {
		return nil, &Error{Upstream: r.name, Kind: KindInvalid, Err: fmt.Errorf("token realm rejected: %w", err)}
	}

	// Credentials go to the realm, so an https registry must not send them
	// over plain http.
	if r.base.Scheme == "https" && u.Scheme != "https" {
		return nil, &Error{Upstream: r.name, Kind: KindInvalid, Err: fmt.Errorf("token realm %s is not https although the registry is", u.Redacted())}
	}

	return u, nil
}

// parseWWWAuthenticate splits one header value into challenges. Parameters
// may be tokens or quoted strings, and a quoted scope contains commas
// (scope="repository:a/b:pull,push"), so a plain split on commas is wrong.
func parseWWWAuthenticate(v string) []authChallenge {
	var out []authChallenge
	s := v

	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out
		}

		name, rest := readToken(s)
		if name == "" {
			return out
		}

		afterName := strings.TrimLeft(rest, " \t")
		if strings.HasPrefix(afterName, "=") && len(out) > 0 {
			value, after := readParamValue(strings.TrimLeft(afterName[1:], " \t"))
			out[len(out)-1].params[strings.ToLower(name)] = value
			s = after

			continue
		}

		out = append(out, authChallenge{scheme: strings.ToLower(name), params: map[string]string{}})
		s = rest
	}
}

func readToken(s string) (token, rest string) {
	i := strings.IndexAny(s, " \t,=\"")
	if i < 0 {
		return s, ""
	}

	return s[:i], s[i:]
}

func readParamValue(s string) (value, rest string) {
	if !strings.HasPrefix(s, `"`) {
		return readToken(s)
	}

	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}

	return b.String(), ""
}

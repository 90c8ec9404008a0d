package hubsim

import (
	"fmt"
	"net/http"
	"strings"
)

// Challenge errors, as in RFC 6750 and distribution's token auth.
const (
	challengeInsufficientScope = "insufficient_scope"
	challengeInvalidToken      = "invalid_token"
)

// realm returns the token service URL for challenges. Without a separate
// token service the realm is /token on the host the client used, so that a
// hub served through httptest works without knowing its own address.
func (h *Hub) realm(r *http.Request) string {
	if url := h.serviceURL(ServiceToken); url != "" {
		return url + "/token"
	}
	return "http://" + r.Host + "/token"
}

// challenge writes a 401 with Docker Hub's WWW-Authenticate header. scope
// and errorCode are left out of the header when empty.
func (h *Hub) challenge(w http.ResponseWriter, r *http.Request, scope, errorCode, message string, detail any) {
	value := fmt.Sprintf("Bearer realm=%q,service=%q", h.realm(r), Service)
	if scope != "" {
		value += fmt.Sprintf(",scope=%q", scope)
	}
	if errorCode != "" {
		value += fmt.Sprintf(",error=%q", errorCode)
	}
	w.Header().Set("WWW-Authenticate", value)
	writeError(w, http.StatusUnauthorized, codeUnauthorized, message, detail)
}

// authorize checks the request's bearer token for action on repo, or for
// any valid token when repo is empty (GET /v2/). On failure it writes the
// 401 and reports false. On success it returns whom the request is
// charged to.
//
// Docker Hub's token service never grants access to a repository that does
// not exist, so such requests end here with 401 insufficient_scope rather
// than 404.
func (h *Hub) authorize(w http.ResponseWriter, r *http.Request, repo, action string) (identity, bool) {
	scope := ""
	var detail any
	if repo != "" {
		scope = "repository:" + repo + ":" + action
		if action == "push" {
			scope = "repository:" + repo + ":push,pull"
		}
		detail = scopeDetail(repo, action)
	}

	token, ok := bearerToken(r)
	if !ok {
		h.challenge(w, r, scope, "", "authentication required", detail)
		return identity{}, false
	}

	rec, ok := h.tokens.lookup(token, h.now())
	if !ok {
		h.challenge(w, r, scope, challengeInvalidToken, "authentication required", detail)
		return identity{}, false
	}

	// Tokens grant pull only, so every other action is refused here.
	if repo != "" && (action != "pull" || !rec.pull[repo]) {
		h.challenge(w, r, scope, challengeInsufficientScope, "authentication required", detail)
		return identity{}, false
	}

	if rec.username != "" {
		return h.accountIdentity(rec.username), true
	}
	return h.anonymousIdentity(r), true
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

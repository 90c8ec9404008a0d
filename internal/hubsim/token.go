package hubsim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// tokenRecord is the hub's record of an issued bearer token. Tokens are
// opaque random strings rather than Docker Hub's JWTs, because clients must
// not read a token's contents anyway.
type tokenRecord struct {
	username string          // empty for an anonymous token
	pull     map[string]bool // repositories the token may pull
	expires  time.Time
}

// tokenStore maps issued access and refresh tokens to what they grant.
type tokenStore struct {
	mu      sync.Mutex
	access  map[string]tokenRecord
	refresh map[string]string // refresh token -> username
	issued  int
}

// pruneEvery bounds the token map: every pruneEvery issues, expired tokens
// are dropped, so a long benchmark run does not grow it without limit.
const pruneEvery = 1024

func newTokenStore() *tokenStore {
	return &tokenStore{access: map[string]tokenRecord{}, refresh: map[string]string{}}
}

func (s *tokenStore) issue(rec tokenRecord, now time.Time) string {
	token := randomToken()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.access[token] = rec
	s.issued++
	if s.issued%pruneEvery == 0 {
		for key, old := range s.access {
			if !now.Before(old.expires) {
				delete(s.access, key)
			}
		}
	}
	return token
}

// lookup returns the record of a token that exists and has not expired.
func (s *tokenStore) lookup(token string, now time.Time) (tokenRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.access[token]
	if !ok || !now.Before(rec.expires) {
		return tokenRecord{}, false
	}
	return rec, true
}

func (s *tokenStore) issueRefresh(username string) string {
	token := randomToken()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh[token] = username
	return token
}

func (s *tokenStore) refreshUser(token string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	username, ok := s.refresh[token]
	return username, ok
}

func randomToken() string {
	buf := make([]byte, 24)
	rand.Read(buf)
	return hex.EncodeToString(buf)
}

// AccountID returns the stable id that the hub sends as
// docker-ratelimit-source for an account's pulls. Docker Hub sends an
// account's UUID; hubsim derives one from the username.
func AccountID(username string) string {
	sum := sha256.Sum256([]byte("hubsim account " + username))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// tokenResponse is the JSON body of auth.docker.io's token endpoint.
type tokenResponse struct {
	Token        string `json:"token,omitempty"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	TokenType    string `json:"token_type,omitempty"`
}

// serveToken is the token service (auth.docker.io). GET takes optional
// Basic auth and one or more scope parameters; POST is the OAuth2 form that
// containerd uses with credentials (grant_type password or refresh_token).
// Every requested repository scope that the hub stores is granted pull.
// Docker Hub leaves push, delete and unknown repositories out of the grant
// without an error, and so does hubsim.
func (h *Hub) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	h.stats.update(func(s *Stats) { s.TokenRequests++ })

	if h.applyFault(w, r, stageToken, "", identity{}) {
		return
	}

	switch r.Method {
	case http.MethodGet:
		h.serveTokenGet(w, r)
	case http.MethodPost:
		h.serveTokenPost(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeTokenError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

func (h *Hub) serveTokenGet(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	if service := query.Get("service"); service != "" && service != Service {
		// NOTE: Docker Hub's response to a foreign service name is not
		// documented. hubsim rejects it so that a wrong service shows up.
		writeTokenError(w, http.StatusBadRequest, fmt.Sprintf("invalid service %q: expected %q", service, Service))
		return
	}

	username := ""
	if user, password, ok := r.BasicAuth(); ok {
		if !h.checkPassword(user, password) {
			writeTokenError(w, http.StatusUnauthorized, "incorrect username or password")
			return
		}
		username = user
	}

	response := h.grant(username, query["scope"])
	if query.Get("offline_token") == "true" && username != "" {
		response.RefreshToken = h.tokens.issueRefresh(username)
	}
	writeJSON(w, http.StatusOK, response)
}

func (h *Hub) serveTokenPost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeTokenError(w, http.StatusBadRequest, fmt.Sprintf("invalid form body: %v", err))
		return
	}

	var username string
	switch grant := r.PostForm.Get("grant_type"); grant {
	case "password":
		username = r.PostForm.Get("username")
		if !h.checkPassword(username, r.PostForm.Get("password")) {
			writeTokenError(w, http.StatusUnauthorized, "incorrect username or password")
			return
		}
	case "refresh_token":
		user, ok := h.tokens.refreshUser(r.PostForm.Get("refresh_token"))
		if !ok {
			writeTokenError(w, http.StatusUnauthorized, "invalid refresh token")
			return
		}
		username = user
	default:
		writeTokenError(w, http.StatusBadRequest, fmt.Sprintf("unsupported grant_type %q: expected password or refresh_token", grant))
		return
	}

	scopes := strings.Fields(r.PostForm.Get("scope"))
	response := h.grant(username, scopes)
	response.Token = ""
	response.TokenType = "Bearer"
	response.Scope = strings.Join(scopes, " ")
	if r.PostForm.Get("access_type") == "offline" {
		response.RefreshToken = h.tokens.issueRefresh(username)
	}
	writeJSON(w, http.StatusOK, response)
}

func (h *Hub) checkPassword(username, password string) bool {
	account, ok := h.opts.Accounts[username]
	return ok && account.Password == password
}

// grant issues a token for username ("" for anonymous) with pull access to
// every repository named in scopes that exists.
func (h *Hub) grant(username string, scopes []string) tokenResponse {
	pull := map[string]bool{}
	for _, param := range scopes {
		// Some clients send several scopes space-separated in one parameter.
		for _, scope := range strings.Fields(param) {
			name, actions, ok := parseRepositoryScope(scope)
			if ok && containsAction(actions, "pull") && h.content.repoExists(name) {
				pull[name] = true
			}
		}
	}

	now := h.now()
	token := h.tokens.issue(tokenRecord{username: username, pull: pull, expires: now.Add(h.opts.TokenTTL)}, now)
	return tokenResponse{
		Token:       token,
		AccessToken: token,
		ExpiresIn:   int(h.opts.TokenTTL / time.Second),
		IssuedAt:    now.UTC().Format(time.RFC3339Nano),
	}
}

// parseRepositoryScope splits "repository:NAME:ACTIONS". NAME may itself
// contain a colon (a registry host with a port), so the actions are what
// follows the last colon.
func parseRepositoryScope(scope string) (name string, actions []string, ok bool) {
	rest, found := strings.CutPrefix(scope, "repository:")
	if !found {
		return "", nil, false
	}
	i := strings.LastIndex(rest, ":")
	if i <= 0 {
		return "", nil, false
	}
	return rest[:i], strings.Split(rest[i+1:], ","), true
}

func containsAction(actions []string, want string) bool {
	for _, action := range actions {
		if action == want || action == "*" {
			return true
		}
	}
	return false
}

// writeTokenError writes auth.docker.io's error body, {"details": "..."}.
func writeTokenError(w http.ResponseWriter, status int, details string) {
	writeJSON(w, status, map[string]string{"details": details})
}

func writeJSON(w http.ResponseWriter, status int, value any) {
	body, err := json.Marshal(value)
	if err != nil {
		http.Error(w, fmt.Sprintf("encode response: %v", err), http.StatusInternalServerError)
		return
	}

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

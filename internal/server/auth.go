package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// authChallenge is the WWW-Authenticate value of every 401. Clients
// (docker login, podman login, skopeo, crane) respond to a Basic challenge
// with the stored login.
const authChallenge = `Basic realm="pullcache"`

// Tuning of Auth. A pull sends the login on every request, and one bcrypt
// comparison at the default cost takes tens of milliseconds, so a login
// that verified once is remembered until the file changes.
const (
	// htpasswdCheckInterval is how often the file's size and modification
	// time are compared, so an edited file takes effect without a restart.
	htpasswdCheckInterval = time.Second
	// maxVerifiedLogins bounds the memory of remembered logins. The set is
	// emptied when it is full.
	maxVerifiedLogins = 4096
)

// dummyHash is compared against when the user does not exist, so that a
// wrong user name takes about as long as a wrong password. It is made on
// first use, because a bcrypt hash costs tens of milliseconds.
var dummyHash = sync.OnceValue(func() []byte {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pullcache-no-such-user"), bcrypt.DefaultCost)
	return hash
})

// AuthOptions configures client authentication on the registry port.
type AuthOptions struct {
	// Htpasswd is a file of user:bcrypt-hash lines.
	Htpasswd string
	// AnonymousRead lists upstream names whose content may be pulled
	// without a login.
	AnonymousRead []string
	Logger        *slog.Logger // nil discards logs
}

// Auth checks Basic-auth logins against an htpasswd file. It reads the
// file again when its size or modification time changes. A file that no
// longer parses is logged as an error, and the previous users stay in force.
type Auth struct {
	path      string
	anonymous map[string]bool
	log       *slog.Logger
	// verifyKey keys the HMAC under which verified logins are remembered,
	// so that no password, nor an unsalted hash of one, stays in memory.
	verifyKey [32]byte

	mu        sync.Mutex
	users     map[string][]byte
	sum       [32]byte // SHA-256 of the file the users were read from
	checkedAt time.Time
	verified  map[[32]byte]struct{}
}

// NewAuth loads the htpasswd file. It fails when the file cannot be read
// or has a line that is not a bcrypt entry.
func NewAuth(o AuthOptions) (*Auth, error) {
	a := &Auth{path: o.Htpasswd, anonymous: map[string]bool{}, log: o.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	for _, name := range o.AnonymousRead {
		a.anonymous[name] = true
	}
	rand.Read(a.verifyKey[:])

	content, err := os.ReadFile(a.path)
	if err != nil {
		return nil, fmt.Errorf("read htpasswd file: %w", err)
	}
	users, err := parseHtpasswdFile(a.path, content)
	if err != nil {
		return nil, err
	}
	a.users, a.sum, a.checkedAt = users, sha256.Sum256(content), time.Now()
	a.verified = map[[32]byte]struct{}{}
	return a, nil
}

func parseHtpasswdFile(path string, content []byte) (map[string][]byte, error) {
	users, err := parseHtpasswd(bytes.NewReader(content))
	if err != nil {
		return nil, fmt.Errorf("htpasswd file %s: %w", path, err)
	}
	return users, nil
}

// AnonymousRead reports whether upstream's content may be pulled without a
// login.
func (a *Auth) AnonymousRead(upstream string) bool { return a.anonymous[upstream] }

// Verify reports whether user and password match an htpasswd entry.
func (a *Auth) Verify(user, password string) bool {
	users := a.currentUsers()

	hash, known := users[user]
	if !known {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}

	key := a.loginKey(user, password, hash)
	a.mu.Lock()
	_, remembered := a.verified[key]
	a.mu.Unlock()
	if remembered {
		return true
	}

	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return false
	}
	a.mu.Lock()
	if len(a.verified) >= maxVerifiedLogins {
		clear(a.verified)
	}
	a.verified[key] = struct{}{}
	a.mu.Unlock()
	return true
}

// loginKey is the HMAC of a login and the hash it matched, so a changed
// entry for the same user is not found under the old key.
func (a *Auth) loginKey(user, password string, hash []byte) [32]byte {
	mac := hmac.New(sha256.New, a.verifyKey[:])
	fmt.Fprintf(mac, "%d:%s%d:%s", len(user), user, len(password), password)
	mac.Write(hash)
	var key [32]byte
	copy(key[:], mac.Sum(nil))
	return key
}

// currentUsers returns the users, re-reading the file first when it
// changed and the last check is older than htpasswdCheckInterval.
func (a *Auth) currentUsers() map[string][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()

	if time.Since(a.checkedAt) < htpasswdCheckInterval {
		return a.users
	}
	a.checkedAt = time.Now()

	// The file is compared by content, not by size and modification time:
	// an edit that keeps the size within one timestamp tick would go
	// unnoticed otherwise. The file is small and read once a second at most.
	content, err := os.ReadFile(a.path)
	if err != nil {
		a.log.Error("htpasswd file unreadable; keeping the logins loaded before", slog.String("path", a.path), slog.Any("err", err))
		return a.users
	}
	sum := sha256.Sum256(content)
	if sum == a.sum {
		return a.users
	}

	users, err := parseHtpasswdFile(a.path, content)
	if err != nil {
		a.log.Error("htpasswd file changed but is invalid; keeping the logins loaded before", slog.String("path", a.path), slog.Any("err", err))
		return a.users
	}
	a.users, a.sum = users, sum
	clear(a.verified)
	a.log.Info("htpasswd file reloaded", slog.String("path", a.path), slog.Int("users", len(users)))
	return a.users
}

// authorize checks the request's login when authentication is on. A GET or
// HEAD of an upstream in AnonymousRead needs no login, but a login that is
// sent must be right, so a typo is noticed. rt is nil when routing failed;
// then only a valid login lets the routing error through. A 401 carries the
// Basic challenge, which also makes GET /v2/ start a client's login.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rt *route) error {
	if s.auth == nil {
		return nil
	}

	user, password, sent := r.BasicAuth()
	// After a Basic challenge, containers/image (skopeo 1.9.3, podman)
	// sends an empty login, "Basic Og==", when it has none stored.
	if sent && user == "" && password == "" {
		sent = false
	}

	if sent {
		if s.auth.Verify(user, password) {
			return nil
		}
		w.Header().Set("WWW-Authenticate", authChallenge)
		return &apiError{Status: http.StatusUnauthorized, Code: "UNAUTHORIZED",
			Message: "wrong username or password; log in again with the credentials from the mirror's htpasswd file",
			Err:     fmt.Errorf("login rejected for user %q", user)}
	}

	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	if read && rt != nil && rt.upstream != "" && rt.endpoint != endpointPing && rt.endpoint != endpointCatalog && s.auth.AnonymousRead(rt.upstream) {
		return nil
	}
	w.Header().Set("WWW-Authenticate", authChallenge)
	return newError(http.StatusUnauthorized, "UNAUTHORIZED", "authentication required; log in to the mirror, for example with docker login %s", r.Host)
}

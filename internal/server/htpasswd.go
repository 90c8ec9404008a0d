package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// maxHtpasswdLine bounds one line of an htpasswd file. A bcrypt entry is
// 60 characters after the user name.
const maxHtpasswdLine = 64 << 10

// parseHtpasswd reads "user:hash" lines, as `htpasswd -B` writes them, and
// returns the bcrypt hash of each user. Blank lines and lines starting with
// # are skipped. Other hash schemes (MD5 "$apr1$", SHA-1 "{SHA}", crypt) are
// rejected by line number, because they are too fast to guess against.
func parseHtpasswd(r io.Reader) (map[string][]byte, error) {
	users := map[string][]byte{}
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 4096), maxHtpasswdLine)

	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}

		user, hash, found := strings.Cut(text, ":")
		if !found || user == "" {
			return nil, fmt.Errorf("line %d: invalid entry: want user:bcrypt-hash", line)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("line %d: user %q: the hash is not bcrypt; create entries with htpasswd -B", line, user)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("line %d: user %q is listed twice", line, user)
		}
		users[user] = []byte(hash)
	}
	if err := scanner.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line is longer than %d bytes", maxHtpasswdLine)
		}
		return nil, err
	}
	return users, nil
}

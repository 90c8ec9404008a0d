package server

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestParseHtpasswd(t *testing.T) {
	// Two bcrypt hashes of "pw": the $2y$ prefix that Apache's htpasswd -B
	// writes and the $2a$ prefix of Go's bcrypt package.
	const apacheHash = "$2y$04$fhTXfF4w3VWBcImKhCmLCuQFk0RJJk9ziCFzHUA2TcHQu9CZqiCCm"
	const goHash = "$2a$04$fhTXfF4w3VWBcImKhCmLCuQFk0RJJk9ziCFzHUA2TcHQu9CZqiCCm"

	users, err := parseHtpasswd(strings.NewReader("# mirror logins\n\nci:" + apacheHash + "\r\n  dev:" + goHash + "  \n"))
	if err != nil {
		t.Fatalf("parseHtpasswd: %v", err)
	}
	if len(users) != 2 {
		t.Errorf("%d users, want 2: %v", len(users), users)
	}
	if string(users["ci"]) != apacheHash || string(users["dev"]) != goHash {
		t.Errorf("users = %q", users)
	}
	for user, hash := range users {
		if err := bcrypt.CompareHashAndPassword(hash, []byte("pw")); err != nil {
			t.Errorf("user %s: hash does not match pw: %v", user, err)
		}
	}
}

func TestParseHtpasswdRejects(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"md5", "ci:$apr1$Rn7W1d3b$0cD0m3jQ8bd4G8yqg0mQ90\n", "line 1: user \"ci\": the hash is not bcrypt"},
		{"sha1", "ci:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", "the hash is not bcrypt"},
		{"plain text", "ok:$2a$04$fhTXfF4w3VWBcImKhCmLCuQFk0RJJk9ziCFzHUA2TcHQu9CZqiCCm\nci:secret\n", "line 2: user \"ci\""},
		{"no colon", "ci\n", "line 1: invalid entry: want user:bcrypt-hash"},
		{"no user", ":$2a$04$fhTXfF4w3VWBcImKhCmLCuQFk0RJJk9ziCFzHUA2TcHQu9CZqiCCm\n", "line 1: invalid entry: want user:bcrypt-hash"},
		{"duplicate", "ci:$2a$04$fhTXfF4w3VWBcImKhCmLCuQFk0RJJk9ziCFzHUA2TcHQu9CZqiCCm\nci:$2a$04$fhTXfF4w3VWBcImKhCmLCuQFk0RJJk9ziCFzHUA2TcHQu9CZqiCCm\n", "line 2: user \"ci\" is listed twice"},
		{"long line", "ci:" + strings.Repeat("x", maxHtpasswdLine) + "\n", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseHtpasswd(strings.NewReader(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

package server

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// FuzzParseHtpasswd checks that any file either fails with an error or
// yields users whose names are not empty and hold no colon, each with a
// bcrypt hash, so that no other hash scheme can slip in.
func FuzzParseHtpasswd(f *testing.F) {
	for _, seed := range []string{
		"ci:$2y$04$fhTXfF4w3VWBcImKhCmLCuQFk0RJJk9ziCFzHUA2TcHQu9CZqiCCm\n",
		"# comment\n\nci:$2a$04$fhTXfF4w3VWBcImKhCmLCuQFk0RJJk9ziCFzHUA2TcHQu9CZqiCCm\r\n",
		"ci:$apr1$Rn7W1d3b$0cD0m3jQ8bd4G8yqg0mQ90\n",
		"ci:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n",
		"a:b:c\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, file string) {
		users, err := parseHtpasswd(strings.NewReader(file))
		if err != nil {
			return
		}
		for user, hash := range users {
			if user == "" || strings.Contains(user, ":") {
				t.Fatalf("parseHtpasswd(%q): invalid user %q", file, user)
			}
			if _, err := bcrypt.Cost(hash); err != nil {
				t.Fatalf("parseHtpasswd(%q): user %q has a hash that is not bcrypt: %v", file, user, err)
			}
		}
	})
}

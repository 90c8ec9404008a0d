package config

import "testing"

func TestValidateAcceptsAuthAndTLS(t *testing.T) {
	cfg := Default()
	cfg.Auth = &Auth{Htpasswd: "/etc/pullcache/htpasswd", AnonymousRead: []string{"docker.io"}}
	cfg.TLS = &TLS{Cert: "/etc/pullcache/tls.crt", Key: "/etc/pullcache/tls.key"}

	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() = %v, want no error", err)
	}
}

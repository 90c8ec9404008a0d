package config

// checkTLS checks that both files of the TLS certificate are named. They
// are read when the server starts, and again whenever they change.
func checkTLS(p *problems, t *TLS) {
	if t == nil {
		return
	}
	if t.Cert == "" {
		p.add("tls.cert", "missing file: name the PEM certificate chain, or remove tls to serve plain HTTP")
	}
	if t.Key == "" {
		p.add("tls.key", "missing file: name the PEM private key of tls.cert")
	}
}

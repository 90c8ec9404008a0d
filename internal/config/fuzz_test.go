package config

import (
	"bytes"
	"testing"

	"go.yaml.in/yaml/v3"
)

// maxFuzzConfig bounds the inputs, so that the time goes to many small
// documents rather than YAML's handling of huge ones.
const maxFuzzConfig = 8 << 10

// FuzzParse checks that any document either fails with an error or loads
// to a configuration that, when valid and written back as YAML, loads to
// the same one and stays valid. Loading a file must never panic, and what
// `config check` prints must be a file that loads.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		fullExample,
		"",
		"# only a comment\n",
		"cache:\n  tag_ttl: 0\n",
		"limits:\n  max_manifest_size: 4MiB\n  fetch_queue_wait: 30s\n",
		"upstreams:\n  - name: docker.io\n    url: http://127.0.0.1:5001\n",
		"auth:\n  htpasswd: /etc/pullcache/htpasswd\n  anonymous_read: [docker.io]\ntls: {cert: a, key: b}\n",
		"base: &b {tag_ttl: 1m}\ncache:\n  <<: *b\n",
		"cache: {max_size: -5}\n",
		"listen: [1, 2]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzConfig {
			return
		}
		cfg, err := parse(data)
		if err != nil || cfg.Validate() != nil {
			return
		}

		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal the loaded configuration: %v", err)
		}
		back, err := parse(out)
		if err != nil {
			t.Fatalf("the loaded configuration, written back, does not load: %v\ninput:\n%s\nwritten:\n%s", err, data, out)
		}
		again, err := yaml.Marshal(back)
		if err != nil {
			t.Fatalf("marshal the configuration loaded back: %v", err)
		}
		if !bytes.Equal(out, again) {
			t.Fatalf("the configuration changed on a round trip\ninput:\n%s\nfirst:\n%s\nsecond:\n%s", data, out, again)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("the configuration, written back, no longer validates: %v\ninput:\n%s", err, data)
		}
	})
}

package config

import (
	"net/url"
	"strings"
)

// checkS3 checks storage.s3. Credentials are not part of it: they come from
// the AWS SDK's default chain.
func checkS3(p *problems, s Storage) {
	if s.Filesystem != nil {
		p.add("storage", "both filesystem and s3 are set; keep one (the --data flag sets filesystem)")
	}
	c := s.S3

	switch {
	case c.Bucket == "":
		p.add("storage.s3.bucket", "missing bucket name")
	case strings.ContainsAny(c.Bucket, "/ ") || len(c.Bucket) > 255:
		p.add("storage.s3.bucket", "invalid bucket name %q: give the name alone, without a path or URL", c.Bucket)
	}
	checkS3Prefix(p, c.Prefix)

	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		switch {
		case !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://"):
			p.add("storage.s3.endpoint", "invalid URL %q: it must start with http:// or https://", c.Endpoint)
		case err != nil:
			p.add("storage.s3.endpoint", "invalid URL %q: %v", c.Endpoint, err)
		case u.Host == "":
			p.add("storage.s3.endpoint", "invalid URL %q: missing host", c.Endpoint)
		case u.User != nil:
			p.add("storage.s3.endpoint", "invalid URL: remove the credentials; they come from the AWS credential chain")
		}
	}
}

// checkS3Prefix accepts slash-separated elements made of the characters
// that store keys use, none of them "." or "..", and none starting with
// ".", which the store keeps for its own objects.
func checkS3Prefix(p *problems, prefix string) {
	trimmed := strings.Trim(prefix, "/")
	if trimmed == "" {
		return
	}
	for _, element := range strings.Split(trimmed, "/") {
		if element == "" || strings.HasPrefix(element, ".") {
			p.add("storage.s3.prefix", "invalid prefix %q: empty elements and elements starting with \".\" are not allowed", prefix)
			return
		}
		for _, c := range element {
			if !isKeyRune(c) {
				p.add("storage.s3.prefix", "invalid prefix %q: character %q is not allowed; use letters, digits and ._:@+=-", prefix, c)
				return
			}
		}
	}
}

func isKeyRune(c rune) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.ContainsRune("._:@+=-", c)
}

package config

import (
	"testing"
)

func TestValidateS3(t *testing.T) {
	s3Only := func(s S3) func(*Config) {
		return func(c *Config) {
			c.Storage.Filesystem = nil
			c.Storage.S3 = &s
		}
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" means valid
	}{
		{"minimal", s3Only(S3{Bucket: "cache"}), ""},
		{"full", s3Only(S3{Bucket: "cache", Prefix: "mirror/", Region: "ap-northeast-1", Endpoint: "http://127.0.0.1:7070", PathStyle: true, Redirect: true}), ""},
		{"no bucket", s3Only(S3{Region: "us-east-1"}), "storage.s3.bucket: missing bucket name"},
		{"bucket as URL", s3Only(S3{Bucket: "s3://cache/x"}), `storage.s3.bucket: invalid bucket name "s3://cache/x"`},
		{"prefix with dot element", s3Only(S3{Bucket: "b", Prefix: "a/.hidden"}), `storage.s3.prefix: invalid prefix "a/.hidden"`},
		{"prefix with space", s3Only(S3{Bucket: "b", Prefix: "my cache"}), `storage.s3.prefix: invalid prefix "my cache": character ' ' is not allowed`},
		{"endpoint scheme", s3Only(S3{Bucket: "b", Endpoint: "127.0.0.1:7070"}), `storage.s3.endpoint: invalid URL "127.0.0.1:7070": it must start with http:// or https://`},
		{"endpoint credentials", s3Only(S3{Bucket: "b", Endpoint: "http://key:secret@127.0.0.1:7070"}), "storage.s3.endpoint: invalid URL: remove the credentials"},
		{"both backends", func(c *Config) { c.Storage.S3 = &S3{Bucket: "b"} }, "storage: both filesystem and s3 are set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			wantError(t, err, tt.want)
		})
	}
}

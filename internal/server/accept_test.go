package server

import (
	"net/http"
	"testing"
)

func TestAcceptsManifest(t *testing.T) {
	const (
		ociIndex     = "application/vnd.oci.image.index.v1+json"
		ociManifest  = "application/vnd.oci.image.manifest.v1+json"
		dockerList   = "application/vnd.docker.distribution.manifest.list.v2+json"
		dockerSingle = "application/vnd.docker.distribution.manifest.v2+json"
	)
	tests := []struct {
		name      string
		accept    []string
		mediaType string
		want      bool
	}{
		{"no accept, image manifest", nil, dockerSingle, true},
		{"no accept, OCI manifest", nil, ociManifest, true},
		{"no accept, index", nil, ociIndex, false},
		{"no accept, manifest list", nil, dockerList, false},
		{"docker types only, OCI index", []string{dockerSingle + ", " + dockerList}, ociIndex, false},
		{"docker types only, list", []string{dockerSingle + ", " + dockerList}, dockerList, true},
		{"separate headers", []string{dockerSingle, ociIndex}, ociIndex, true},
		{"parameters and spaces", []string{" application/vnd.oci.image.index.v1+json; q=0.5 "}, ociIndex, true},
		{"wildcard", []string{dockerSingle, "*/*"}, ociIndex, true},
		{"OCI only, docker manifest", []string{ociManifest + "," + ociIndex}, dockerSingle, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "http://mirror/v2/x/manifests/latest", nil)
			for _, v := range tt.accept {
				r.Header.Add("Accept", v)
			}
			if got := acceptsManifest(r, tt.mediaType); got != tt.want {
				t.Errorf("acceptsManifest(%v, %s) = %v, want %v", tt.accept, tt.mediaType, got, tt.want)
			}
		})
	}
}

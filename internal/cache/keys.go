package cache

import (
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
)

// The store layout. Content addressed by digest is shared by every upstream
// and repository, because the same digest always names the same bytes.
// Everything that names content (tags, referrers, the repository list) is
// kept apart per upstream and repository.
//
//	blobs/<alg>/<hex>                                   blob bytes
//	manifests/<alg>/<hex>                               manifestRecord (JSON)
//	repositories/<upstream>/<repo>/_tags/<tag>          tagRecord (JSON)
//	repositories/<upstream>/<repo>/_digests/<alg>-<hex> empty: the repository holds this manifest
//	repositories/<upstream>/<repo>/_referrers/<alg>-<hex>  referrersRecord (JSON)
const (
	blobsPrefix        = "blobs/"
	manifestsPrefix    = "manifests/"
	repositoriesPrefix = "repositories/"
)

func blobKey(d digest.Digest) string {
	return blobsPrefix + d.Algorithm().String() + "/" + d.Encoded()
}

func manifestKey(d digest.Digest) string {
	return manifestsPrefix + d.Algorithm().String() + "/" + d.Encoded()
}

func repositoryKey(upstreamName, repo string) string {
	return repositoriesPrefix + upstreamName + "/" + repo
}

func tagKey(upstreamName, repo, tag string) string {
	return repositoryKey(upstreamName, repo) + "/_tags/" + tag
}

func tagsPrefix(upstreamName, repo string) string {
	return repositoryKey(upstreamName, repo) + "/_tags/"
}

func digestLinkKey(upstreamName, repo string, d digest.Digest) string {
	return repositoryKey(upstreamName, repo) + "/_digests/" + d.Algorithm().String() + "-" + d.Encoded()
}

// referrersKey names the stored, unfiltered referrers response of a subject.
func referrersKey(upstreamName, repo string, subject digest.Digest) string {
	return repositoryKey(upstreamName, repo) + "/_referrers/" + subject.Algorithm().String() + "-" + subject.Encoded()
}

// repositoryFromKey returns the upstream and repository that a key under
// repositories/ belongs to, or ok=false for other keys.
func repositoryFromKey(key string) (upstreamName, repo string, ok bool) {
	rest, found := strings.CutPrefix(key, repositoriesPrefix)
	if !found {
		return "", "", false
	}
	upstreamName, rest, found = strings.Cut(rest, "/")
	if !found {
		return "", "", false
	}
	marker := strings.Index(rest, "/_")
	if marker <= 0 {
		return "", "", false
	}
	return upstreamName, path.Clean(rest[:marker]), true
}

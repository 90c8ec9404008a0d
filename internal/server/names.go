package server

import (
	"regexp"

	"github.com/distribution/reference"
)

// repositoryNamePattern is the <name> grammar of the OCI distribution spec
// (path components only; the registry host is not part of a name here).
// distribution/reference's exported patterns accept a leading domain,
// which is why the spec's grammar is written out.
var repositoryNamePattern = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)

// maxNameLength follows the distribution spec's advice that a name with
// its registry host stay under 256 characters.
const maxNameLength = 255

var (
	tagPattern  = regexp.MustCompile(`^` + reference.TagRegexp.String() + `$`)
	hostPattern = regexp.MustCompile(`^` + reference.DomainRegexp.String() + `$`)
)

func validRepositoryName(name string) bool {
	return len(name) <= maxNameLength && repositoryNamePattern.MatchString(name)
}

func validTag(tag string) bool { return tagPattern.MatchString(tag) }

// isRegistryHost applies Docker's rule for telling a registry host from a
// first path component: it contains "." or ":", or is "localhost".
func isRegistryHost(component string) bool {
	if component == "localhost" {
		return true
	}
	for _, c := range component {
		if c == '.' || c == ':' {
			return true
		}
	}
	return false
}

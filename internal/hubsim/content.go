package hubsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"sync"

	"github.com/opencontainers/go-digest"
)

// errNotFound marks a repository, tag or manifest that the store does not hold.
var errNotFound = errors.New("not found")

// blobSource is the bytes of one blob. In-memory blobs are *bytes.Reader; a
// large synthetic layer generates its bytes from its offset.
type blobSource interface {
	io.ReaderAt
	Size() int64
}

// manifestEntry is one stored manifest with the fields the referrers API needs.
type manifestEntry struct {
	mediaType    string
	body         []byte
	digest       digest.Digest
	subject      digest.Digest
	artifactType string
	annotations  map[string]string
}

// repository holds the tags and the manifests pushed to one repository name.
type repository struct {
	tags      map[string]digest.Digest
	manifests map[digest.Digest]*manifestEntry
}

// store is the hub's content: blobs shared by all repositories, and
// repositories with their manifests and tags.
type store struct {
	mu    sync.RWMutex
	blobs map[digest.Digest]blobSource
	repos map[string]*repository
}

func newStore() *store {
	return &store{
		blobs: map[digest.Digest]blobSource{},
		repos: map[string]*repository{},
	}
}

func (s *store) putBlob(data []byte) digest.Digest {
	dgst := digest.FromBytes(data)
	copied := bytes.Clone(data)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[dgst] = bytes.NewReader(copied)
	return dgst
}

// putBlobSource stores a blob whose digest the caller has computed.
func (s *store) putBlobSource(dgst digest.Digest, src blobSource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[dgst] = src
}

func (s *store) blob(dgst digest.Digest) (blobSource, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	src, ok := s.blobs[dgst]
	return src, ok
}

func (s *store) putManifest(repoName, tag, mediaType string, body []byte) digest.Digest {
	entry := &manifestEntry{
		mediaType: mediaType,
		body:      bytes.Clone(body),
		digest:    digest.FromBytes(body),
	}
	readReferrerFields(entry)

	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.repos[repoName]
	if repo == nil {
		repo = &repository{tags: map[string]digest.Digest{}, manifests: map[digest.Digest]*manifestEntry{}}
		s.repos[repoName] = repo
	}
	repo.manifests[entry.digest] = entry
	if tag != "" {
		repo.tags[tag] = entry.digest
	}
	return entry.digest
}

// readReferrerFields copies subject, artifactType and annotations from the
// manifest body. A body that is not JSON simply has none.
func readReferrerFields(entry *manifestEntry) {
	var fields struct {
		ArtifactType string `json:"artifactType"`
		Config       *struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Subject *struct {
			Digest digest.Digest `json:"digest"`
		} `json:"subject"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(entry.body, &fields); err != nil {
		return
	}

	entry.annotations = fields.Annotations
	entry.artifactType = fields.ArtifactType
	if entry.artifactType == "" && fields.Config != nil {
		// The OCI referrers API falls back to the config media type.
		entry.artifactType = fields.Config.MediaType
	}
	if fields.Subject != nil {
		entry.subject = fields.Subject.Digest
	}
}

func (s *store) repoExists(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.repos[name]
	return ok
}

// manifest returns the manifest that ref (a tag or a digest) names in repo.
func (s *store) manifest(repoName, ref string) (*manifestEntry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	repo := s.repos[repoName]
	if repo == nil {
		return nil, errNotFound
	}

	dgst, err := digest.Parse(ref)
	if err != nil {
		tagged, ok := repo.tags[ref]
		if !ok {
			return nil, errNotFound
		}
		dgst = tagged
	}

	entry, ok := repo.manifests[dgst]
	if !ok {
		return nil, errNotFound
	}
	return entry, nil
}

func (s *store) moveTag(repoName, tag string, dgst digest.Digest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.repos[repoName]
	if repo == nil {
		return errNotFound
	}
	if _, ok := repo.manifests[dgst]; !ok {
		return errNotFound
	}
	repo.tags[tag] = dgst
	return nil
}

func (s *store) deleteTag(repoName, tag string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.repos[repoName]
	if repo == nil {
		return false
	}
	_, ok := repo.tags[tag]
	delete(repo.tags, tag)
	return ok
}

func (s *store) deleteRepo(repoName string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.repos[repoName]
	delete(s.repos, repoName)
	return ok
}

// tags returns the sorted tag names of repo.
func (s *store) tags(repoName string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	repo := s.repos[repoName]
	if repo == nil {
		return nil, errNotFound
	}

	names := make([]string, 0, len(repo.tags))
	for tag := range repo.tags {
		names = append(names, tag)
	}
	sort.Strings(names)
	return names, nil
}

// referrers returns the manifests of repo whose subject is dgst, sorted by
// digest so that responses are stable.
func (s *store) referrers(repoName string, dgst digest.Digest) ([]*manifestEntry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	repo := s.repos[repoName]
	if repo == nil {
		return nil, errNotFound
	}

	var found []*manifestEntry
	for _, entry := range repo.manifests {
		if entry.subject == dgst {
			found = append(found, entry)
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].digest < found[j].digest })
	return found, nil
}

package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func (s *Server) serveTags(w http.ResponseWriter, r *http.Request, rt *route) error {
	query := r.URL.Query()
	query.Del("ns")
	body, link, status, err := s.cache.ListTags(r.Context(), rt.upstream, rt.repo, query.Encode())
	if err != nil {
		return err
	}

	if next := rewriteLink(link, r); next != "" {
		w.Header().Set("Link", next)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("X-Cache-Status", string(status))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
	return nil
}

// rewriteLink turns an upstream pagination Link into one for this mirror:
// the upstream's query (n, last) on the client's own path, so that the next
// page is asked of the mirror with the same name and ns parameter.
func rewriteLink(link string, r *http.Request) string {
	start, end := strings.Index(link, "<"), strings.Index(link, ">")
	if start < 0 || end < start {
		return ""
	}
	target, err := url.Parse(link[start+1 : end])
	if err != nil {
		return ""
	}
	query := target.Query()
	if ns := r.URL.Query().Get("ns"); ns != "" {
		query.Set("ns", ns)
	}
	return fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, query.Encode())
}

func (s *Server) serveCatalog(w http.ResponseWriter, r *http.Request) error {
	repos, err := s.cache.Repositories(r.Context())
	if err != nil {
		return err
	}

	names := make([]string, 0, len(repos))
	for _, repo := range repos {
		up, configured := s.upstreams[repo.Upstream]
		if !configured || checkRepositoryAllowed(up, repo.Name) != nil {
			continue
		}
		if repo.Upstream == s.defaultUpstream {
			names = append(names, repo.Name)
		} else {
			names = append(names, repo.Upstream+"/"+repo.Name)
		}
	}
	sort.Strings(names)

	query := r.URL.Query()
	if last := query.Get("last"); last != "" {
		i := sort.SearchStrings(names, last)
		if i < len(names) && names[i] == last {
			i++
		}
		names = names[i:]
	}
	if n, err := strconv.Atoi(query.Get("n")); err == nil && n >= 0 && n < len(names) {
		names = names[:n]
		if n > 0 {
			next := url.Values{"n": {strconv.Itoa(n)}, "last": {names[n-1]}}
			w.Header().Set("Link", fmt.Sprintf(`</v2/_catalog?%s>; rel="next"`, next.Encode()))
		}
	}

	body, err := json.Marshal(map[string][]string{"repositories": names})
	if err != nil {
		return fmt.Errorf("encode catalog: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
	return nil
}

func (s *Server) serveReferrers(w http.ResponseWriter, r *http.Request, rt *route) error {
	artifactType := r.URL.Query().Get("artifactType")
	refs, err := s.cache.GetReferrers(r.Context(), rt.upstream, rt.repo, rt.digest, artifactType)
	if err != nil {
		return err
	}

	if refs.Filtered {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", v1.MediaTypeImageIndex)
	w.Header().Set("Content-Length", strconv.Itoa(len(refs.Body)))
	w.Header().Set("X-Cache-Status", string(refs.Status))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(refs.Body)
	}
	return nil
}

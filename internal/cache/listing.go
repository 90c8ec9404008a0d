package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/pullcache/pullcache/internal/storage"
	"github.com/pullcache/pullcache/internal/upstream"
)

// Repository is a stored repository of one upstream.
type Repository struct {
	Upstream string
	Name     string
}

// ListTags passes a tags list request to upstream. When upstream fails
// (but not when it returns 404), the tags stored for the repository are
// returned instead, as STALE.
func (c *Cache) ListTags(ctx context.Context, upstreamName, repo, rawQuery string) (body []byte, link string, status Status, err error) {
	remote, err := c.remote(upstreamName)
	if err != nil {
		return nil, "", "", err
	}

	body, link, err = remote.Client.ListTags(ctx, repo, rawQuery)
	c.recordUpstreamResult(upstreamName, err)
	if err == nil {
		return body, link, StatusMiss, nil
	}
	var upErr *upstream.Error
	if errors.As(err, &upErr) && upErr.Kind == upstream.KindNotFound {
		return nil, "", "", fmt.Errorf("%w: %w", ErrNameUnknown, err)
	}

	tags, storeErr := c.StoredTags(ctx, upstreamName, repo)
	if storeErr != nil || len(tags) == 0 {
		return nil, "", "", err
	}
	c.log.Warn("serving stored tag list because upstream failed", slog.String("upstream", upstreamName),
		slog.String("repo", repo), slog.Any("err", err))
	body, _ = json.Marshal(struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{repo, tags})
	return body, "", StatusStale, nil
}

// StoredTags returns the tags stored for a repository, sorted.
func (c *Cache) StoredTags(ctx context.Context, upstreamName, repo string) ([]string, error) {
	prefix := tagsPrefix(upstreamName, repo)
	var tags []string
	err := c.store.Walk(ctx, prefix, func(key string, _ storage.Info) error {
		tag := strings.TrimPrefix(key, prefix)
		if tag != "" && !strings.Contains(tag, "/") {
			tags = append(tags, tag)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list stored tags of %s: %w", repo, err)
	}
	sort.Strings(tags)
	return tags, nil
}

// Repositories returns every stored repository, sorted by upstream and name.
func (c *Cache) Repositories(ctx context.Context) ([]Repository, error) {
	seen := make(map[Repository]struct{})
	err := c.store.Walk(ctx, repositoriesPrefix, func(key string, _ storage.Info) error {
		up, repo, ok := repositoryFromKey(key)
		if ok {
			seen[Repository{Upstream: up, Name: repo}] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list stored repositories: %w", err)
	}

	repos := make([]Repository, 0, len(seen))
	for r := range seen {
		repos = append(repos, r)
	}
	sort.Slice(repos, func(i, j int) bool {
		if repos[i].Upstream != repos[j].Upstream {
			return repos[i].Upstream < repos[j].Upstream
		}
		return repos[i].Name < repos[j].Name
	})
	return repos, nil
}

package s3

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pullcache/pullcache/internal/storage"
)

// Walk lists the objects whose key starts with prefix, a page of up to
// 1,000 at a time. The store's own objects and keys that the store would
// not accept (written by something else) are skipped.
func (s *Store) Walk(ctx context.Context, prefix string, fn func(key string, info storage.Info) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}

	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("walk %q: %w", prefix, err)
		}
		for _, object := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(object.Key), s.prefix)
			if !ok || !isStoreKey(key) {
				continue
			}
			info := storage.Info{Size: aws.ToInt64(object.Size), ModTime: aws.ToTime(object.LastModified)}
			if err := fn(key, info); err != nil {
				return fmt.Errorf("walk %q: %w", prefix, err)
			}
		}
	}
	return nil
}

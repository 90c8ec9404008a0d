package s3

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// abortStaleUploads aborts the unfinished multipart uploads under the
// prefix that started more than staleUploadAge ago: a writer that crashed
// left them, and S3 keeps (and bills) their parts until they are aborted.
// Younger ones may belong to another replica's write in progress.
func (s *Store) abortStaleUploads(ctx context.Context) error {
	cutoff := s.now().Add(-staleUploadAge)
	pages := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix),
	})

	aborted := 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list multipart uploads: %w", err)
		}
		for _, upload := range page.Uploads {
			if !aws.ToTime(upload.Initiated).Before(cutoff) {
				continue
			}
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket:   aws.String(s.bucket),
				Key:      upload.Key,
				UploadId: upload.UploadId,
			})
			if err != nil && !isNotFound(err) && errorCode(err) != "NoSuchUpload" {
				return fmt.Errorf("abort multipart upload of %s: %w", aws.ToString(upload.Key), err)
			}
			aborted++
		}
	}
	if aborted > 0 {
		s.logger.Info("aborted multipart uploads of interrupted writes", slog.String("bucket", s.bucket),
			slog.Int("count", aborted), slog.Duration("older_than", staleUploadAge))
	}
	return nil
}

package s3

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pullcache/pullcache/internal/storage"
)

// Stat returns the size and Last-Modified time of the object under key.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := checkKey(key); err != nil {
		return storage.Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.ObjectKey(key)),
	})
	if err != nil {
		return storage.Info{}, objectError("stat", key, err)
	}
	return storage.Info{Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Open streams the object under key from offset with a ranged GET. The
// body is read as the caller reads, so memory stays flat.
func (s *Store) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, storage.Info, error) {
	if err := checkKey(key); err != nil {
		return nil, storage.Info{}, err
	}
	if offset < 0 {
		return nil, storage.Info{}, fmt.Errorf("open %s: negative offset %d", key, offset)
	}

	input := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.ObjectKey(key))}
	if offset > 0 {
		input.Range = aws.String("bytes=" + strconv.FormatInt(offset, 10) + "-")
	}
	out, err := s.client.GetObject(ctx, input)
	if err != nil && offset > 0 && isInvalidRange(err) {
		return s.openAtEnd(ctx, key, offset)
	}
	if err != nil {
		return nil, storage.Info{}, objectError("open", key, err)
	}

	info := storage.Info{Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}
	if offset > 0 {
		total, ok := totalFromContentRange(aws.ToString(out.ContentRange))
		if !ok {
			out.Body.Close()
			return nil, storage.Info{}, fmt.Errorf("open %s at offset %d: no object size in Content-Range %q", key, offset, aws.ToString(out.ContentRange))
		}
		info.Size = total
	}
	return out.Body, info, nil
}

// openAtEnd handles an offset that S3 rejected as a range. At exactly the
// end of the object it returns an empty reader, past the end an error.
func (s *Store) openAtEnd(ctx context.Context, key string, offset int64) (io.ReadCloser, storage.Info, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, storage.Info{}, err
	}
	if offset != info.Size {
		return nil, storage.Info{}, fmt.Errorf("open %s: offset %d is outside the object of %d bytes", key, offset, info.Size)
	}
	return io.NopCloser(strings.NewReader("")), info, nil
}

// totalFromContentRange returns SIZE from "bytes START-END/SIZE".
func totalFromContentRange(contentRange string) (int64, bool) {
	_, total, found := strings.Cut(contentRange, "/")
	if !found {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil && n >= 0
}

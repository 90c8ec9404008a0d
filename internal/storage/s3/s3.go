// Package s3 is the storage.Store backend on an S3 or S3-compatible bucket
// (AWS S3, MinIO, Ceph RGW, SeaweedFS, versitygw), so that several
// pullcache replicas can share one store.
//
// Each object is the S3 object <prefix><key>. A write streams to S3 as it
// arrives (a multipart upload once it outgrows one part) and becomes visible
// only on Commit, which completes the upload; Abort aborts it, and S3 never
// shows a part of an upload. Names whose first element starts with "." are
// the store's own, such as the lease objects under .leases/.
//
// Info.ModTime is S3's Last-Modified. For an object written with a
// multipart upload S3 reports when the upload started, which is earlier than
// the commit by the length of the transfer.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pullcache/pullcache/internal/storage"
)

// Upload tuning. A writer holds the first part and up to
// uploadConcurrency+1 pooled parts in memory, about 40 MiB at most whatever
// the object's size. 8 MiB parts put S3's 10,000-part limit at 78 GiB.
const (
	partSize          = 8 << 20
	uploadConcurrency = 2
	// failTimeout bounds the abort of a multipart upload whose context
	// has already ended.
	failTimeout = 30 * time.Second
)

// staleUploadAge is the minimum age of an unfinished multipart upload that
// New aborts. Another replica may be writing a younger one right now.
const staleUploadAge = 24 * time.Hour

// DefaultSignedURLExpiry is how long a presigned blob URL stays valid.
const DefaultSignedURLExpiry = 5 * time.Minute

// Options configures a Store. Bucket is required.
type Options struct {
	Bucket string
	// Prefix is prepended to every key, so that several stores can share a
	// bucket. A missing trailing slash is added.
	Prefix string
	// Region is the bucket's region. Empty takes the SDK's default chain
	// (AWS_REGION, shared config), then us-east-1.
	Region string
	// Endpoint is the base URL of an S3-compatible server. Empty means AWS.
	Endpoint string
	// PathStyle puts the bucket in the URL path instead of the host name,
	// as most S3-compatible servers need.
	PathStyle bool
	// Credentials overrides the SDK's default credential chain. Nil keeps
	// the chain: environment, shared files, web identity, container and
	// instance roles.
	Credentials aws.CredentialsProvider
	// SignedURLExpiry is how long a URL from SignedURL stays valid; 0 means
	// DefaultSignedURLExpiry.
	SignedURLExpiry time.Duration
	// Logger receives start-up and cleanup messages; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Store is a storage.Store on an S3 bucket. It is safe for concurrent use.
type Store struct {
	client    *s3.Client
	transfers *transfermanager.Client
	presign   *s3.PresignClient
	bucket    string
	prefix    string
	urlExpiry time.Duration
	logger    *slog.Logger
	now       func() time.Time
}

var (
	_ storage.Store      = (*Store)(nil)
	_ storage.Redirector = (*Store)(nil)
)

// New builds the client, checks that the bucket responds and aborts
// multipart uploads older than a day, which only a crashed writer leaves.
// A failure of that cleanup is logged, not returned.
func New(ctx context.Context, o Options) (*Store, error) {
	if o.Bucket == "" {
		return nil, errors.New("open s3 store: no bucket configured")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SignedURLExpiry <= 0 {
		o.SignedURLExpiry = DefaultSignedURLExpiry
	}
	prefix := strings.Trim(o.Prefix, "/")
	if prefix != "" {
		if err := checkPrefix(prefix); err != nil {
			return nil, fmt.Errorf("open s3 store: prefix: %w", err)
		}
		prefix += "/"
	}

	client, err := newClient(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("open s3 store: %w", err)
	}
	s := &Store{
		client:    client,
		transfers: newTransfers(client, o.Endpoint != ""),
		presign:   s3.NewPresignClient(client),
		bucket:    o.Bucket,
		prefix:    prefix,
		urlExpiry: o.SignedURLExpiry,
		logger:    o.Logger,
		now:       o.Now,
	}

	if err := s.Check(ctx); err != nil {
		return nil, fmt.Errorf("open s3 store: %w", err)
	}
	// Stale uploads only cost storage, so a replica that may not list or
	// abort them still serves.
	if err := s.abortStaleUploads(ctx); err != nil {
		s.logger.Warn("could not abort stale multipart uploads; grant s3:ListBucketMultipartUploads and s3:AbortMultipartUpload",
			slog.String("bucket", s.bucket), slog.Any("err", err))
	}
	return s, nil
}

// newClient loads the SDK's default configuration and applies the options
// on top of it.
func newClient(ctx context.Context, o Options) (*s3.Client, error) {
	var loadOptions []func(*config.LoadOptions) error
	if o.Region != "" {
		loadOptions = append(loadOptions, config.WithRegion(o.Region))
	}
	if o.Credentials != nil {
		loadOptions = append(loadOptions, config.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOptions...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}

	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.UsePathStyle = o.PathStyle
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			// Many S3-compatible servers reject the SDK's default
			// streaming checksums; the cache verifies every blob's digest
			// itself.
			so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	}), nil
}

func newTransfers(client *s3.Client, compatible bool) *transfermanager.Client {
	return transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = partSize
		o.MultipartUploadThreshold = partSize
		o.Concurrency = uploadConcurrency
		o.FailTimeout = failTimeout
		if compatible {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		}
	})
}

// Check is the readiness check: a HEAD of the bucket with the store's
// credentials must succeed.
func (s *Store) Check(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return fmt.Errorf("bucket %s not reachable; check storage.s3 (bucket, region, endpoint) and the AWS credentials: %w", s.bucket, err)
	}
	return nil
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// ObjectKey returns the S3 key that holds the store key key.
func (s *Store) ObjectKey(key string) string { return s.prefix + key }

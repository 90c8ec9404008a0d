package secret

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
)

// awsClients loads the AWS SDK configuration once per Resolver, on the
// first secretsmanager: or ssm: reference, so a configuration that uses
// neither never reads AWS settings.
type awsClients struct {
	mu     sync.Mutex
	loaded bool
	cfg    aws.Config
}

// awsConfig returns the SDK configuration from the default chain: the
// AWS_* environment variables (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL and
// the per-service AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL_SSM),
// the shared config and credentials files, web identity, the container and
// instance roles. A failed load is not kept, so a later call tries again.
func (r *Resolver) awsConfig(ctx context.Context) (aws.Config, error) {
	r.aws.mu.Lock()
	defer r.aws.mu.Unlock()

	if r.aws.loaded {
		return r.aws.cfg, nil
	}

	load := r.LoadAWSConfig
	if load == nil {
		load = func(ctx context.Context) (aws.Config, error) { return config.LoadDefaultConfig(ctx) }
	}
	cfg, err := load(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}

	r.aws.cfg, r.aws.loaded = cfg, true
	return cfg, nil
}

// regionFor returns the region of an ARN, or the configured region when
// id is a plain name. A reference by ARN thus works in any region setting.
func regionFor(cfg aws.Config, id string) (string, error) {
	if strings.HasPrefix(id, "arn:") {
		fields := strings.SplitN(id, ":", 5)
		if len(fields) == 5 && fields[3] != "" {
			return fields[3], nil
		}
	}
	if cfg.Region == "" {
		return "", errors.New("no AWS region is set; set AWS_REGION (or a region in the AWS profile), or write the full ARN")
	}
	return cfg.Region, nil
}

// describeAWSError adds what to do to the errors a user can fix. The SDK's
// own text (operation, status, request id, AWS's message) stays, because it
// names the identity and the resource; it never contains a secret value.
func describeAWSError(err error, permission string) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return err
	}

	switch apiErr.ErrorCode() {
	case "AccessDeniedException":
		return fmt.Errorf("access denied; the AWS identity needs %s on it (and kms:Decrypt when a customer managed key encrypts it): %w", permission, err)
	case "UnrecognizedClientException", "InvalidSignatureException":
		return fmt.Errorf("AWS rejected the access key; check the AWS credentials pullcache runs with: %w", err)
	case "ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound":
		return fmt.Errorf("not found; check the name, the region and the version: %w", err)
	}
	return err
}

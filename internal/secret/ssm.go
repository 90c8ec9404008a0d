package secret

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// ssmSource resolves "ssm:PARAMETER-NAME" references to AWS Systems Manager
// Parameter Store parameters. SecureString parameters are decrypted. The
// name may also be the parameter's ARN, whose region is then used.
type ssmSource struct {
	r *Resolver
}

func newSSMSource(r *Resolver) Source { return ssmSource{r: r} }

func (ssmSource) Check(name string) error {
	if name == "" {
		return errors.New(`missing parameter name in an "ssm:" reference`)
	}
	return nil
}

func (s ssmSource) Resolve(ctx context.Context, name string) (string, error) {
	cfg, err := s.r.awsConfig(ctx)
	if err != nil {
		return "", err
	}
	region, err := regionFor(cfg, name)
	if err != nil {
		return "", err
	}

	client := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.Region = region })
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("get parameter %s: %w", name, describeAWSError(err, "ssm:GetParameter"))
	}

	// "aws ssm put-parameter --value file://..." keeps the file's final
	// line break, which is not part of the credential.
	var value string
	if out.Parameter != nil {
		value = strings.TrimRight(aws.ToString(out.Parameter.Value), "\r\n")
	}
	if value == "" {
		return "", fmt.Errorf("parameter %s is empty", name)
	}
	return value, nil
}

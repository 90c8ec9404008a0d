package secret

import (
	"context"
	"errors"
	"fmt"
)

// ssmSource parses "ssm:PARAMETER-NAME" references to AWS Systems Manager
// Parameter Store parameters, which are read with decryption.
//
// TODO: resolve through the AWS SDK (github.com/aws/aws-sdk-go-v2); until
// then Resolve returns ErrNotSupported.
type ssmSource struct{}

func newSSMSource(*Resolver) Source { return ssmSource{} }

func (ssmSource) Check(name string) error {
	if name == "" {
		return errors.New(`missing parameter name in an "ssm:" reference`)
	}
	return nil
}

func (ssmSource) Resolve(context.Context, string) (string, error) {
	return "", fmt.Errorf("ssm references are %w; use an env or file reference", ErrNotSupported)
}

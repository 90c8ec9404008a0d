package secret

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// secretsManagerSource parses AWS Secrets Manager references in the order
// CodeBuild's buildspec uses:
// SECRET-ID[:JSON-KEY[:VERSION-STAGE[:VERSION-ID]]], where SECRET-ID may be a
// full ARN, which contains colons of its own.
//
// TODO: resolve through the AWS SDK (github.com/aws/aws-sdk-go-v2); until
// then Resolve returns ErrNotSupported.
type secretsManagerSource struct{}

func newSecretsManagerSource(*Resolver) Source { return secretsManagerSource{} }

func (secretsManagerSource) Check(rest string) error {
	_, err := parseSecretsManager(rest)
	return err
}

func (secretsManagerSource) Resolve(context.Context, string) (string, error) {
	return "", fmt.Errorf("secretsmanager references are %w; use an env or file reference", ErrNotSupported)
}

// secretsManagerRef is a parsed secretsmanager: reference. Empty optional
// fields mean the whole secret string and the AWSCURRENT version.
type secretsManagerRef struct {
	SecretID     string
	JSONKey      string
	VersionStage string
	VersionID    string
}

// arnFields is the number of colon-separated fields of a Secrets Manager
// ARN: arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME.
const arnFields = 7

func parseSecretsManager(rest string) (secretsManagerRef, error) {
	fields := strings.Split(rest, ":")

	idFields := 1
	if fields[0] == "arn" {
		idFields = arnFields
		if len(fields) < arnFields || fields[2] != "secretsmanager" || fields[5] != "secret" || fields[6] == "" {
			return secretsManagerRef{}, errors.New("ARN must have the form arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME")
		}
	}
	if fields[0] == "" {
		return secretsManagerRef{}, errors.New(`missing secret id in a "secretsmanager:" reference`)
	}
	if len(fields) > idFields+3 {
		return secretsManagerRef{}, errors.New("too many fields, want SECRET-ID[:JSON-KEY[:VERSION-STAGE[:VERSION-ID]]]")
	}

	ref := secretsManagerRef{SecretID: strings.Join(fields[:idFields], ":")}
	optional := fields[idFields:]
	if len(optional) > 0 {
		ref.JSONKey = optional[0]
	}
	if len(optional) > 1 {
		ref.VersionStage = optional[1]
	}
	if len(optional) > 2 {
		ref.VersionID = optional[2]
	}
	return ref, nil
}

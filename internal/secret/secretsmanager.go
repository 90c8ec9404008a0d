package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// secretsManagerSource resolves AWS Secrets Manager references, written in
// the order CodeBuild's buildspec uses:
// SECRET-ID[:JSON-KEY[:VERSION-STAGE[:VERSION-ID]]], where SECRET-ID may be a
// full ARN, which contains colons of its own.
type secretsManagerSource struct {
	r *Resolver
}

func newSecretsManagerSource(r *Resolver) Source { return secretsManagerSource{r: r} }

func (secretsManagerSource) Check(rest string) error {
	_, err := parseSecretsManager(rest)
	return err
}

// Resolve reads the secret string (or binary) of the chosen version. With a
// JSON key the secret must be a JSON object and the key's value is returned.
func (s secretsManagerSource) Resolve(ctx context.Context, rest string) (string, error) {
	ref, err := parseSecretsManager(rest)
	if err != nil {
		return "", err
	}

	cfg, err := s.r.awsConfig(ctx)
	if err != nil {
		return "", err
	}
	region, err := regionFor(cfg, ref.SecretID)
	if err != nil {
		return "", err
	}

	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.SecretID)}
	if ref.VersionStage != "" {
		in.VersionStage = aws.String(ref.VersionStage)
	}
	if ref.VersionID != "" {
		in.VersionId = aws.String(ref.VersionID)
	}

	client := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.Region = region })
	out, err := client.GetSecretValue(ctx, in)
	if err != nil {
		return "", fmt.Errorf("get secret %s: %w", ref.SecretID, describeAWSError(err, "secretsmanager:GetSecretValue"))
	}

	value := aws.ToString(out.SecretString)
	if out.SecretString == nil {
		value = string(out.SecretBinary)
	}
	if ref.JSONKey == "" {
		// As for file: references, a trailing line break from the tool
		// that stored the secret is not part of it.
		value = strings.TrimRight(value, "\r\n")
		if value == "" {
			return "", fmt.Errorf("secret %s is empty", ref.SecretID)
		}
		return value, nil
	}
	return jsonKey(value, ref)
}

// jsonKey returns one key of a secret that holds a JSON object. Errors never
// quote the secret, not even the character a JSON syntax error points at.
func jsonKey(value string, ref secretsManagerRef) (string, error) {
	var object map[string]json.RawMessage
	if err := json.Unmarshal([]byte(value), &object); err != nil {
		return "", fmt.Errorf("secret %s is not a JSON object, so key %q cannot be read from it; drop the key to use the whole secret", ref.SecretID, ref.JSONKey)
	}

	raw, ok := object[ref.JSONKey]
	if !ok {
		return "", fmt.Errorf("secret %s has no key %q (it has %s)", ref.SecretID, ref.JSONKey, strings.Join(sortedKeys(object), ", "))
	}

	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		if text == "" {
			return "", fmt.Errorf("key %q of secret %s is empty", ref.JSONKey, ref.SecretID)
		}
		return text, nil
	}

	// A number or boolean is used as written; objects, arrays and null
	// are not credentials.
	var scalar any
	if err := json.Unmarshal(raw, &scalar); err == nil {
		switch scalar.(type) {
		case float64, bool:
			return string(raw), nil
		}
	}
	return "", fmt.Errorf("key %q of secret %s is not a string", ref.JSONKey, ref.SecretID)
}

func sortedKeys(object map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(object))
	for k := range object {
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	slices.Sort(keys)
	return keys
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

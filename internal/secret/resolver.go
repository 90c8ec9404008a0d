// Package secret resolves credential references from the configuration
// file into the values they name.
//
// A value is either a literal or a reference "SCHEME:REST" with one of the
// schemes in sources. A value with any other prefix, including one that
// contains a colon, is a literal, so a password such as "p:ss" works as
// written.
package secret

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Source resolves the references of one scheme. rest is the reference
// without its "SCHEME:" prefix. Errors must never contain the value.
type Source interface {
	// Check reports whether rest is well formed, without reading anything.
	Check(rest string) error

	// Resolve returns the value that rest names.
	Resolve(ctx context.Context, rest string) (string, error)
}

// sources maps each scheme to the constructor of its Source. Adding a source
// means one file with its type and one line here.
var sources = map[string]func(*Resolver) Source{
	"env":            newEnvSource,
	"file":           newFileSource,
	"secretsmanager": newSecretsManagerSource,
	"ssm":            newSSMSource,
}

// Resolver turns credential values into secrets. The zero value reads the
// process environment, the real filesystem and AWS through the SDK's default
// configuration. A Resolver must not be copied after first use.
type Resolver struct {
	// LookupEnv replaces os.LookupEnv when set.
	LookupEnv func(name string) (string, bool)

	// ReadFile replaces the reading of file: references when set. The
	// default reads at most maxFileSize bytes.
	ReadFile func(path string) ([]byte, error)

	// LoadAWSConfig replaces the AWS SDK's default configuration chain
	// for secretsmanager: and ssm: references when set.
	LoadAWSConfig func(ctx context.Context) (aws.Config, error)

	aws awsClients
}

// IsReference reports whether value starts with a known scheme and so names
// a secret instead of being one.
func IsReference(value string) bool {
	_, _, ok := splitReference(value)
	return ok
}

// CheckReference returns an error when value is a reference that is not well
// formed, such as "env:" with no variable name. Literals are always valid.
func CheckReference(value string) error {
	scheme, rest, ok := splitReference(value)
	if !ok {
		return nil
	}
	if err := sources[scheme](&Resolver{}).Check(rest); err != nil {
		return fmt.Errorf("invalid %s reference %q: %w", scheme, value, err)
	}
	return nil
}

// Resolve returns the secret that value names, or value itself when it is a
// literal.
func (r *Resolver) Resolve(ctx context.Context, value string) (string, error) {
	scheme, rest, ok := splitReference(value)
	if !ok {
		return value, nil
	}

	source := sources[scheme](r)
	if err := source.Check(rest); err != nil {
		return "", fmt.Errorf("invalid %s reference %q: %w", scheme, value, err)
	}
	secret, err := source.Resolve(ctx, rest)
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", value, err)
	}
	return secret, nil
}

func splitReference(value string) (scheme, rest string, ok bool) {
	scheme, rest, found := strings.Cut(value, ":")
	if !found {
		return "", "", false
	}
	if _, known := sources[scheme]; !known {
		return "", "", false
	}
	return scheme, rest, true
}

func (r *Resolver) lookupEnv() func(string) (string, bool) {
	if r.LookupEnv != nil {
		return r.LookupEnv
	}
	return os.LookupEnv
}

func (r *Resolver) readFile() func(string) ([]byte, error) {
	if r.ReadFile != nil {
		return r.ReadFile
	}
	return readFileLimited
}

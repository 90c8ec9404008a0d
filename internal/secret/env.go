package secret

import (
	"context"
	"errors"
	"fmt"
)

// envSource resolves "env:NAME" to the value of the environment variable.
type envSource struct {
	lookup func(string) (string, bool)
}

func newEnvSource(r *Resolver) Source { return envSource{lookup: r.lookupEnv()} }

func (envSource) Check(name string) error {
	if name == "" {
		return errors.New(`missing variable name in an "env:" reference`)
	}
	for i, c := range name {
		letter := c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
		digit := '0' <= c && c <= '9'
		if !letter && !(digit && i > 0) {
			return fmt.Errorf("variable name %q may contain only letters, digits and underscores, and may not start with a digit", name)
		}
	}
	return nil
}

// Resolve treats an empty variable like a missing one, because an empty
// credential is almost always a variable that the deployment forgot to set.
func (s envSource) Resolve(_ context.Context, name string) (string, error) {
	value, ok := s.lookup(name)
	if !ok {
		return "", fmt.Errorf("environment variable %s is not set", name)
	}
	if value == "" {
		return "", fmt.Errorf("environment variable %s is empty", name)
	}
	return value, nil
}

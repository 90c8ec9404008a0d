package status

import (
	"fmt"
	"regexp"
)

// replicaNamePattern matches the names ReplicaHistoryKey accepts: host
// names and Kubernetes pod names, which never contain a slash.
var replicaNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ReplicaHistoryKey returns the store key of the status history of the
// replica called name, for a store that several replicas share, such as
// one S3 bucket. Each replica keeps its own history there, because one
// shared key would hold only the last writer's totals.
func ReplicaHistoryKey(name string) (string, error) {
	if len(name) > 253 || !replicaNamePattern.MatchString(name) {
		return "", fmt.Errorf("replica name %q is not a valid host name (letters, digits, '.', '-' and '_', at most 253 characters)", name)
	}
	return "status/replicas/" + name + "/history.json", nil
}

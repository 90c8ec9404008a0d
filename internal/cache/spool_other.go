//go:build !linux

package cache

import "os"

// reserveSpool does nothing where fallocate is not available: a full disk
// then shows as a failed spool write during the transfer.
func reserveSpool(*os.File, int64) error { return nil }

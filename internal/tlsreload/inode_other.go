//go:build !unix

package tlsreload

import "os"

// inodeOf returns 0 where inode numbers are not available, so only size and
// modification time detect a change.
func inodeOf(os.FileInfo) uint64 { return 0 }

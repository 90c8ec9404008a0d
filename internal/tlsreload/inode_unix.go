//go:build unix

package tlsreload

import (
	"os"
	"syscall"
)

// inodeOf returns the file's inode number, which changes when a new file is
// renamed into place with the same size and modification time, as a
// Kubernetes secret volume does when it swaps its symbolic link.
func inodeOf(info os.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

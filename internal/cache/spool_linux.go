package cache

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// reserveSpool allocates size bytes for the spool file up front, so that a
// full disk shows before the transfer starts rather than in the middle of
// it. A filesystem that cannot preallocate is not an error: its writes
// fail later, as before.
func reserveSpool(spool *os.File, size int64) error {
	if size <= 0 {
		return nil
	}
	err := syscall.Fallocate(int(spool.Fd()), 0, 0, size)
	if err == nil || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return nil
	}
	return fmt.Errorf("%w: reserve %d bytes: %w", errSpoolFull, size, err)
}

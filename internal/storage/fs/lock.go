package fs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// ErrLocked is returned (wrapped) by Lock when another open lock file, in
// this process or another, holds the store's lock.
var ErrLocked = errors.New("store is locked by another process")

// Lock takes an exclusive flock on <root>/.lock without waiting. The server
// holds it while it serves, and gc takes it so that it never deletes objects
// under a running server. The lock belongs to the open file, so a second Lock
// fails even within one process, and the kernel releases it when the process
// exits, including on kill -9.
func (f *FS) Lock() (unlock func() error, err error) {
	path := filepath.Join(f.root, lockFileName)
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("lock store %s: %w", f.root, err)
	}

	if err := flock(file); err != nil {
		file.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (is a pullcache server running on it?)", ErrLocked, f.root)
		}
		return nil, fmt.Errorf("lock store %s: %w", f.root, err)
	}

	var once sync.Once
	unlock = func() error {
		var closeErr error
		once.Do(func() {
			// Closing the last descriptor of the open file releases the lock.
			closeErr = file.Close()
		})
		if closeErr != nil {
			return fmt.Errorf("unlock store %s: %w", f.root, closeErr)
		}
		return nil
	}
	return unlock, nil
}

// flock takes an exclusive, non-blocking lock on file.
func flock(file *os.File) error {
	raw, err := file.SyscallConn()
	if err != nil {
		return err
	}

	var lockErr error
	err = raw.Control(func(fd uintptr) {
		lockErr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
	})
	if err != nil {
		return err
	}
	return lockErr
}

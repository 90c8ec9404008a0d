package fs

import (
	"errors"
	"strings"
	"testing"
)

func TestLockIsExclusive(t *testing.T) {
	store := newStore(t)

	unlock, err := store.Lock()
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}

	_, err = store.Lock()
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock error = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), store.Root()) {
		t.Errorf("ErrLocked message %q does not name the root", err)
	}

	if err := unlock(); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Errorf("second unlock: %v", err)
	}

	again, err := store.Lock()
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	again()
}

func TestLockHiddenFromWalk(t *testing.T) {
	store := newStore(t)
	unlock, err := store.Lock()
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	defer unlock()

	if keys := walkKeys(t, store, ""); len(keys) != 0 {
		t.Errorf("Walk found %v, want nothing", keys)
	}
}

package storage

import (
	"context"
	"fmt"
	"io"
)

// PutBytes stores data under key in one atomic commit.
func PutBytes(ctx context.Context, s Store, key string, data []byte) error {
	w, err := s.Create(ctx, key)
	if err != nil {
		return err
	}
	defer w.Abort()

	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return w.Commit(ctx)
}

// GetBytes reads a whole object of at most limit bytes.
func GetBytes(ctx context.Context, s Store, key string, limit int64) ([]byte, error) {
	r, info, err := s.Open(ctx, key, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()

	if info.Size > limit {
		return nil, fmt.Errorf("read %s: object of %d bytes is larger than the limit of %d bytes", key, info.Size, limit)
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: object is larger than the limit of %d bytes", key, limit)
	}
	return data, nil
}

package secret

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxFileSize bounds a file: read. Credentials are short, and the limit keeps
// a reference to a large or endless file (a log, /dev/zero) from filling
// memory.
const maxFileSize = 64 << 10

// errFileTooLarge is returned by readFileLimited for a file over maxFileSize.
var errFileTooLarge = fmt.Errorf("file is larger than %d bytes, which is too large for a credential", maxFileSize)

// fileSource resolves "file:PATH" to the file's contents without trailing
// line breaks, which editors and "echo" add. A relative PATH is relative to
// the working directory.
type fileSource struct {
	read func(string) ([]byte, error)
}

func newFileSource(r *Resolver) Source { return fileSource{read: r.readFile()} }

func (fileSource) Check(path string) error {
	if path == "" {
		return errors.New(`missing path in a "file:" reference`)
	}
	return nil
}

// Resolve names the path in every error but never the contents.
func (s fileSource) Resolve(_ context.Context, path string) (string, error) {
	data, err := s.read(path)
	if err != nil {
		return "", fmt.Errorf("read credential file %s: %w", path, err)
	}

	value := strings.TrimRight(string(data), "\r\n")
	if value == "" {
		return "", fmt.Errorf("credential file %s is empty", path)
	}
	return value, nil
}

func readFileLimited(path string) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()

	data, err := io.ReadAll(io.LimitReader(file, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, errFileTooLarge
	}
	return data, nil
}

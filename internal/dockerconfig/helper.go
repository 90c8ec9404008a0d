package dockerconfig

// The credential-helper protocol is written here rather than taken from
// github.com/docker/docker-credential-helpers/client, because that client
// runs the helper without a context, so a helper that hangs (waiting on a
// keychain prompt, say) would hang a refresh for ever. The protocol is
// small: the action as the only argument, the server URL (get) on stdin,
// JSON on stdout, and on failure a message on stdout.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// helperTimeout bounds one helper run when ctx has no earlier deadline.
const helperTimeout = 30 * time.Second

// maxHelperOutput bounds what is read from a helper.
const maxHelperOutput = 1 << 20

// notFoundMessage is the message helpers print when they store nothing
// for the server URL.
const notFoundMessage = "credentials not found in native keychain"

// HelperCredentials is a helper's response to get.
type HelperCredentials struct {
	ServerURL string `json:"ServerURL"`
	Username  string `json:"Username"`
	Secret    string `json:"Secret"`
}

// HelperGet runs docker-credential-NAME get for serverURL. A helper that
// has nothing for it gives ErrNotFound.
func HelperGet(ctx context.Context, name, serverURL string) (username, secret string, err error) {
	out, err := runHelper(ctx, name, "get", serverURL)
	if err != nil {
		return "", "", err
	}

	var creds HelperCredentials
	if err := json.Unmarshal(out, &creds); err != nil {
		return "", "", fmt.Errorf("credential helper docker-credential-%s: the response to get is not JSON", name)
	}
	if creds.Secret == "" {
		return "", "", fmt.Errorf("credential helper docker-credential-%s: empty secret for %s", name, serverURL)
	}
	return creds.Username, creds.Secret, nil
}

func runHelper(ctx context.Context, name, action, input string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, helperTimeout)
	defer cancel()

	program := "docker-credential-" + name
	cmd := exec.CommandContext(ctx, program, action)
	cmd.Stdin = strings.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &limitedWriter{buf: &stdout, left: maxHelperOutput}
	cmd.Stderr = &limitedWriter{buf: &stderr, left: 4 << 10}

	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("credential helper %s %s: %w", program, action, ctx.Err())
	}

	// On failure a helper prints its message on stdout; it never holds a
	// secret then.
	message := strings.TrimSpace(stdout.String())
	if message == notFoundMessage {
		return nil, ErrNotFound
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && message != "" {
		return nil, fmt.Errorf("credential helper %s %s: %s", program, action, firstLine(message))
	}
	return nil, fmt.Errorf("credential helper %s %s: %w", program, action, err)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 200 {
		line = line[:200]
	}
	return line
}

// limitedWriter keeps at most left bytes and drops the rest.
type limitedWriter struct {
	buf  *bytes.Buffer
	left int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > w.left {
		p = p[:w.left]
	}
	w.buf.Write(p)
	w.left -= len(p)
	return n, nil
}

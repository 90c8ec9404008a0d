package main

import (
	stdlog "log"
	"log/slog"
	"regexp"
	"strings"
)

// clientPort matches the port of a client address such as 127.0.0.1:54321
// or [::1]:54321 in a net/http error line.
var clientPort = regexp.MustCompile(`(\b(?:\d{1,3}\.){3}\d{1,3}|\[[0-9A-Fa-f:.%]+\]):\d+\b`)

// newServerErrorLog returns the logger for http.Server.ErrorLog. It logs
// each line as a warning without the client's port, so that the logger's
// repeat limit counts lines such as "http: TLS handshake error from
// 127.0.0.1:54321: ..." as one message, whatever port the client used.
func newServerErrorLog(log *slog.Logger) *stdlog.Logger {
	return stdlog.New(serverErrorWriter{log: log}, "", 0)
}

type serverErrorWriter struct{ log *slog.Logger }

func (w serverErrorWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	w.log.Warn(clientPort.ReplaceAllString(line, "$1"))
	return len(p), nil
}

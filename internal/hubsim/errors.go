package hubsim

import (
	"net/http"
)

// OCI distribution error codes that the hub sends.
const (
	codeUnauthorized     = "UNAUTHORIZED"
	codeDenied           = "DENIED"
	codeNameUnknown      = "NAME_UNKNOWN"
	codeManifestUnknown  = "MANIFEST_UNKNOWN"
	codeBlobUnknown      = "BLOB_UNKNOWN"
	codeDigestInvalid    = "DIGEST_INVALID"
	codeNameInvalid      = "NAME_INVALID"
	codeUnsupported      = "UNSUPPORTED"
	codeTooManyRequests  = "TOOMANYREQUESTS"
	codePaginationNumber = "PAGINATION_NUMBER_INVALID"
)

// ociError is one entry of an OCI distribution error body.
type ociError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError writes {"errors":[{"code":..., "message":..., "detail":...}]}.
// On a HEAD request net/http drops the body and keeps the status.
func writeError(w http.ResponseWriter, status int, code, message string, detail any) {
	body := struct {
		Errors []ociError `json:"errors"`
	}{Errors: []ociError{{Code: code, Message: message, Detail: detail}}}
	writeJSON(w, status, body)
}

// scopeDetail is the detail Docker Hub attaches to an UNAUTHORIZED error
// for a repository.
func scopeDetail(repo, action string) any {
	return []map[string]string{{"Type": "repository", "Class": "", "Name": repo, "Action": action}}
}

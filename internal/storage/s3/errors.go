package s3

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pullcache/pullcache/internal/storage"
)

// httpStatus returns the HTTP status of a failed S3 call, or 0 when the
// call got no response.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// errorCode returns the S3 error code, such as NoSuchKey, or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// isNotFound reports whether err means that the object does not exist. A
// HEAD gets a bare 404 with no error code.
func isNotFound(err error) bool {
	switch errorCode(err) {
	case "NoSuchKey", "NotFound":
		return true
	}
	return httpStatus(err) == http.StatusNotFound && errorCode(err) != "NoSuchBucket"
}

// isPreconditionFailed reports whether a conditional write lost: the object
// exists (If-None-Match) or has changed (If-Match).
func isPreconditionFailed(err error) bool {
	code := errorCode(err)
	return code == "PreconditionFailed" || code == "ConditionalRequestConflict" ||
		httpStatus(err) == http.StatusPreconditionFailed || httpStatus(err) == http.StatusConflict
}

// isInvalidRange reports whether a ranged GET started at or past the end.
func isInvalidRange(err error) bool {
	return errorCode(err) == "InvalidRange" || httpStatus(err) == http.StatusRequestedRangeNotSatisfiable
}

// objectError wraps err with the operation and key, turning a missing
// object into storage.ErrNotFound.
func objectError(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%s %s: %w", op, key, storage.ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

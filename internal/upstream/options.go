package upstream

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Defaults for the zero values of Options.
const (
	// DefaultConnectTimeout bounds dial plus TLS handshake. A registry that
	// cannot finish a handshake in this time is treated as down.
	DefaultConnectTimeout = 10 * time.Second

	// DefaultIdleReadTimeout is how long a response (headers or body) may
	// make no progress. It is an idle limit, not a total one, so large blobs
	// on slow links still finish.
	DefaultIdleReadTimeout = 60 * time.Second

	// DefaultMaxManifestSize matches the 4 MiB limit that distribution and
	// containerd apply to manifests.
	DefaultMaxManifestSize = 4 << 20

	// maxTagListSize caps a tags/list body. Docker Hub pages tag lists, so a
	// single page stays far below this.
	maxTagListSize = 4 << 20

	// maxErrorBodySize caps how much of an error response is read to find
	// the OCI error code and message.
	maxErrorBodySize = 64 << 10

	// maxTokenBodySize caps a token service response.
	maxTokenBodySize = 64 << 10

	// maxRedirects is the number of redirects followed for one request. Blob
	// downloads need one (registry to CDN); five leaves room for a CDN that
	// redirects again.
	maxRedirects = 5
)

// Options configures a Registry. Only URL is required.
type Options struct {
	// Name is the configured upstream name, such as "docker.io". It is
	// copied into every *Error and log line.
	Name string

	// URL is the registry's base URL, such as https://registry-1.docker.io.
	// Only http and https are accepted.
	URL string

	// Credentials returns the current username and password; two empty
	// strings mean anonymous, and the username IdentityTokenUser makes the
	// password an identity token. It is called each time a token or a Basic
	// header is needed, so rotated secrets take effect without a restart.
	// nil means anonymous.
	Credentials func(ctx context.Context) (username, password string, err error)

	// CredentialsRejected, when set, is called with the username and
	// password that the token service or a Basic-auth registry rejected
	// (never for a 401 or 403 on one repository). The request is then tried
	// once more with what Credentials returns next, so a provider that
	// returns anonymous credentials after this call keeps pulls going.
	CredentialsRejected func(username, password string)

	// ConnectTimeout bounds dial plus TLS handshake. 0 means
	// DefaultConnectTimeout. It only applies to the default transport.
	ConnectTimeout time.Duration

	// IdleReadTimeout fails a response whose headers or body make no
	// progress for this long, with KindUnavailable. 0 means
	// DefaultIdleReadTimeout.
	IdleReadTimeout time.Duration

	// MaxManifestSize is the largest manifest, referrers index or tag list
	// page accepted, in bytes. 0 means DefaultMaxManifestSize.
	MaxManifestSize int64

	// Transport replaces the default transport, for tests that inject
	// faults. The default transport checks every resolved address against
	// the upstream safety policy at dial time. A replacement must do its
	// own dial checks, but realm and redirect URLs are still checked.
	Transport http.RoundTripper

	// Logger receives one Debug line per request. nil discards.
	Logger *slog.Logger

	// Clock returns the current time, for token expiry, rate-limit
	// timestamps and Retry-After dates. nil means time.Now.
	Clock func() time.Time

	// OnResponse, when set, is called once per HTTP exchange, for metrics.
	OnResponse func(ResponseInfo)

	// Retry configures retries of failed GET and HEAD requests.
	Retry RetryOptions

	// OnBody, when set, is called once per response body when it is
	// closed, with the bytes read from the wire.
	OnBody func(BodyInfo)
}

// BodyInfo describes the body of one HTTP exchange, reported on Close.
type BodyInfo struct {
	Method string
	Kind   string // as in ResponseInfo
	Bytes  int64  // bytes read, before any Content-Encoding is decoded
}

// ResponseInfo describes one HTTP exchange with the upstream or its token
// service.
type ResponseInfo struct {
	Method string
	// Kind is one of "manifest", "blob", "token", "tags", "referrers", "ping".
	Kind string
	// Status is the HTTP status of the final response after redirects, 0
	// when no response arrived.
	Status int
	// Duration runs from sending the request to receiving the response
	// headers; body transfer time is not included.
	Duration time.Duration
}

// Kinds of request, as reported in ResponseInfo.Kind.
const (
	requestManifest  = "manifest"
	requestBlob      = "blob"
	requestToken     = "token"
	requestTags      = "tags"
	requestReferrers = "referrers"
	requestPing      = "ping"
)

func (o *Options) setDefaults() {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.IdleReadTimeout <= 0 {
		o.IdleReadTimeout = DefaultIdleReadTimeout
	}
	if o.MaxManifestSize <= 0 {
		o.MaxManifestSize = DefaultMaxManifestSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Credentials == nil {
		o.Credentials = anonymous
	}
	o.Retry.setDefaults()
}

func anonymous(context.Context) (string, string, error) { return "", "", nil }

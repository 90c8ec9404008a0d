package hubsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Paths of presigned blob URLs: cdnPrefix on the CDN listener, and
// relativeDownloadPrefix on the registry's own listener for the
// RelativeRedirect quirk.
const (
	cdnPrefix              = "/blobs/"
	relativeDownloadPrefix = "/downloads/"
)

// redirectLocation returns where a blob GET redirects to, or "" when the
// registry sends the bytes itself.
func (h *Hub) redirectLocation(dgst digest.Digest) string {
	query := h.signedQuery(dgst)
	if h.Quirks().RelativeRedirect {
		return relativeDownloadPrefix + dgst.String() + "?" + query
	}
	if cdn := h.CDNURL(); cdn != "" {
		return cdn + cdnPrefix + dgst.String() + "?" + query
	}
	return ""
}

// signedQuery returns "sig=...&expires=..." for a URL that is valid for
// Options.RedirectTTL from now.
func (h *Hub) signedQuery(dgst digest.Digest) string {
	expires := strconv.FormatInt(h.now().Add(h.opts.RedirectTTL).Unix(), 10)
	query := url.Values{"sig": {h.sign(dgst, expires)}, "expires": {expires}}
	return query.Encode()
}

func (h *Hub) sign(dgst digest.Digest, expires string) string {
	mac := hmac.New(sha256.New, h.signingKey)
	fmt.Fprintf(mac, "%s\n%s", dgst, expires)
	return hex.EncodeToString(mac.Sum(nil))
}

// serveCDN plays the object store behind Docker Hub's blob redirects. It
// serves a blob only for a URL whose signature is valid and not expired. A
// request that also carries an Authorization header gets 400, as presigned
// S3 URLs do. Errors have S3's XML shape.
func (h *Hub) serveCDN(w http.ResponseWriter, r *http.Request) {
	ref, ok := strings.CutPrefix(r.URL.Path, cdnPrefix)
	if !ok {
		ref, ok = strings.CutPrefix(r.URL.Path, relativeDownloadPrefix)
	}
	dgst, err := digest.Parse(ref)

	if r.Method == http.MethodGet {
		h.stats.update(func(s *Stats) {
			s.CDNGets++
			if err == nil {
				s.CDNGetsByDigest[dgst]++
			}
		})
	}

	if !ok || err != nil {
		writeS3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeS3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
		return
	}
	if r.Header.Get("Authorization") != "" {
		writeS3Error(w, http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
		return
	}
	if h.applyFault(w, r, stageCDN, "", identity{}) {
		return
	}

	query := r.URL.Query()
	expires := query.Get("expires")
	if !hmac.Equal([]byte(query.Get("sig")), []byte(h.sign(dgst, expires))) {
		writeS3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	if unix, err := strconv.ParseInt(expires, 10, 64); err != nil || !h.now().Before(time.Unix(unix, 0)) {
		writeS3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	}

	src, found := h.content.blob(dgst)
	if !found {
		writeS3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	if r.Method == http.MethodHead {
		setBlobHeaders(w, dgst, false)
		w.Header().Set("Content-Length", itoa(src.Size()))
		w.WriteHeader(http.StatusOK)
		return
	}
	h.sendBlob(w, r, dgst, src, stageCDN, "")
}

func writeS3Error(w http.ResponseWriter, status int, code, message string) {
	body := fmt.Sprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, message)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", itoa(int64(len(body))))
	w.WriteHeader(status)
	w.Write([]byte(body))
}

package awssim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// verifySignature recomputes the request's Signature Version 4 signature
// with the simulator's secret key and returns the region of its credential
// scope. It signs a copy that holds only the headers the client signed, so
// headers the transport added after signing do not count.
func verifySignature(r *http.Request, body []byte) (string, error) {
	auth := r.Header.Get("Authorization")
	credential, signedHeaders, ok := parseAuthorization(auth)
	if !ok {
		return "", errors.New("missing or malformed AWS4-HMAC-SHA256 Authorization header")
	}

	// Credential=AKID/DATE/REGION/SERVICE/aws4_request
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return "", fmt.Errorf("malformed credential scope %q", credential)
	}
	if scope[0] != AccessKeyID {
		return "", fmt.Errorf("unknown access key %q", scope[0])
	}
	region, service := scope[2], scope[3]

	signingTime, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "", fmt.Errorf("bad X-Amz-Date: %w", err)
	}

	resigned, err := http.NewRequestWithContext(context.Background(), r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return "", err
	}
	resigned.ContentLength = int64(len(body))
	for _, name := range strings.Split(signedHeaders, ";") {
		if name == "host" || name == "content-length" {
			continue
		}
		resigned.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
	}

	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, resigned, hex.EncodeToString(sum[:]), service, region, signingTime); err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}

	if resigned.Header.Get("Authorization") != auth {
		return "", errors.New("the request signature does not match the one computed with the secret access key")
	}

	return region, nil
}

// parseAuthorization splits "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=...".
func parseAuthorization(header string) (credential, signedHeaders string, ok bool) {
	rest, found := strings.CutPrefix(header, "AWS4-HMAC-SHA256 ")
	if !found {
		return "", "", false
	}

	for _, part := range strings.Split(rest, ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch key {
		case "Credential":
			credential = value
		case "SignedHeaders":
			signedHeaders = value
		}
	}

	return credential, signedHeaders, credential != "" && signedHeaders != ""
}

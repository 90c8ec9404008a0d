// Package awssim is a stand-in for the two AWS JSON APIs that pullcache reads
// credentials from: Secrets Manager GetSecretValue and Systems Manager
// Parameter Store GetParameter. Tests point the real AWS SDK at it on a
// loopback port, so request signing, the JSON protocol and error parsing all
// run as they do against AWS.
//
// It checks each request's Signature Version 4 signature against its one
// test access key, returns errors in AWS's shape (__type and message, HTTP
// 400), and counts requests per operation and region.
package awssim

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
)

// Test credentials that the simulator accepts. They are made up and grant
// nothing anywhere else.
const (
	AccessKeyID     = "AKIDPULLCACHETEST"
	SecretAccessKey = "pullcache-test-secret-access-key"
	Account         = "123456789012"
)

// maxRequestBody caps a request body; the two operations take a few fields.
const maxRequestBody = 64 << 10

// Server is a running simulator. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to use as AWS_ENDPOINT_URL.
	URL string

	srv      *http.Server
	listener net.Listener

	mu         sync.Mutex
	secrets    map[string]*secret // by name
	params     map[string]*parameter
	denied     map[string]bool // secret names and parameter names
	requests   map[string]int  // by "Operation region"
	nextSerial int
}

// Start listens on a loopback port and serves until Close.
func Start() (*Server, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("awssim: listen: %w", err)
	}

	s := &Server{
		URL:      "http://" + listener.Addr().String(),
		listener: listener,
		secrets:  make(map[string]*secret),
		params:   make(map[string]*parameter),
		denied:   make(map[string]bool),
		requests: make(map[string]int),
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serveHTTP)}
	go func() { _ = s.srv.Serve(listener) }()

	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Deny makes requests for the secret or parameter with this name (or ARN)
// fail with AccessDeniedException, as an IAM policy without the permission
// does.
func (s *Server) Deny(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.denied[name] = true
}

// Requests returns how many requests of operation (such as
// "GetSecretValue") were signed for region.
func (s *Server) Requests(operation, region string) int {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.requests[operation+" "+region]
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, http.StatusNotFound, "UnknownOperationException", "only POST / is served")
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "read body: "+err.Error())
		return
	}

	region, err := verifySignature(r, body)
	if err != nil {
		writeError(w, http.StatusForbidden, "InvalidSignatureException", err.Error())
		return
	}

	target := r.Header.Get("X-Amz-Target")
	_, operation, _ := strings.Cut(target, ".")
	s.mu.Lock()
	s.requests[operation+" "+region]++
	s.mu.Unlock()

	switch target {
	case "secretsmanager.GetSecretValue":
		s.getSecretValue(w, body, region)
	case "AmazonSSM.GetParameter":
		s.getParameter(w, body, region)
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("operation %q is not simulated", target))
	}
}

// writeError writes an error in the shape of the AWS JSON protocol, which
// the SDK turns into a typed error by __type.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

// Environ returns the environment that points the AWS SDK's default chain
// at the simulator, in region, with the test credentials. It turns off the
// instance metadata probe and names config and credentials files under dir,
// which need not exist, so the machine's own AWS setup is never read.
func (s *Server) Environ(dir, region string) map[string]string {
	return map[string]string{
		"AWS_EC2_METADATA_DISABLED":        "true",
		"AWS_ACCESS_KEY_ID":                AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":            SecretAccessKey,
		"AWS_SESSION_TOKEN":                "",
		"AWS_PROFILE":                      "",
		"AWS_CONFIG_FILE":                  filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE":      filepath.Join(dir, "aws-credentials"),
		"AWS_REGION":                       region,
		"AWS_ENDPOINT_URL":                 s.URL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": "",
		"AWS_ENDPOINT_URL_SSM":             "",
		"AWS_MAX_ATTEMPTS":                 "1",
	}
}

package hubsim_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pullcache/pullcache/internal/hubsim"
	"github.com/pullcache/pullcache/internal/testclock"
)

// smallLayerSize keeps the seeded large layer small in tests that do not
// need it large.
const smallLayerSize = 256 << 10

// fakeClock is a manually advanced clock for Options.Clock.
type fakeClock = testclock.Clock

func newFakeClock() *fakeClock {
	return testclock.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
}

// startHub starts a hub on 127.0.0.1 with the standard content and closes
// it when the test ends.
func startHub(t *testing.T, opts hubsim.Options) (*hubsim.Hub, hubsim.Standard) {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}

	hub := hubsim.New(opts)
	std := hub.SeedStandard(smallLayerSize)
	if err := hub.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start hub: %v", err)
	}
	t.Cleanup(hub.Close)
	return hub, std
}

// newClient returns a client that does not follow redirects and does not
// ask for gzip on its own, so tests see the hub's responses as sent.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	transport := &http.Transport{DisableCompression: true}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{
		Transport:     transport,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// response is a response with its body read.
type response struct {
	*http.Response
	body []byte
	err  error // error of the request or of reading the body
}

// send makes one request and reads the whole body.
func send(t *testing.T, client *http.Client, method, target, token string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatalf("build request %s %s: %v", method, target, err)
	}
	for key, values := range header {
		req.Header[key] = values
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}

	resp, err := client.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return response{Response: resp, body: body, err: err}
}

// mustSend is send for requests that must get a complete response.
func mustSend(t *testing.T, client *http.Client, method, target, token string, header http.Header) response {
	t.Helper()
	resp := send(t, client, method, target, token, header)
	if resp.err != nil {
		t.Fatalf("%s %s: %v", method, target, resp.err)
	}
	return resp
}

// fetchToken gets a pull token for repos from the hub's token service, with
// Basic auth when username is set.
func fetchToken(t *testing.T, client *http.Client, hub *hubsim.Hub, username, password string, repos ...string) string {
	t.Helper()
	query := url.Values{"service": {hubsim.Service}}
	for _, repo := range repos {
		query.Add("scope", "repository:"+repo+":pull")
	}

	req, err := http.NewRequest(http.MethodGet, hub.TokenURL()+"?"+query.Encode(), nil)
	if err != nil {
		t.Fatalf("build token request: %v", err)
	}
	if username != "" {
		req.SetBasicAuth(username, password)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("token request: status %d, body %s", resp.StatusCode, body)
	}

	var token struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&token); err != nil {
		t.Fatalf("decode token response: %v", err)
	}
	return token.Token
}

func manifestURL(hub *hubsim.Hub, repo, ref string) string {
	return hub.URL() + "/v2/" + repo + "/manifests/" + ref
}

func blobURL(hub *hubsim.Hub, repo, dgst string) string {
	return hub.URL() + "/v2/" + repo + "/blobs/" + dgst
}

// acceptAll is the Accept header of a modern client.
func acceptAll() http.Header {
	return http.Header{"Accept": {hubsim.AllManifestTypes}}
}

// errorCode returns the first OCI error code of a body, or "".
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var parsed struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &parsed); err != nil || len(parsed.Errors) == 0 {
		return ""
	}
	return parsed.Errors[0].Code
}

// errorMessage returns the first OCI error message of a body, or "".
func errorMessage(body []byte) string {
	var parsed struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &parsed); err != nil || len(parsed.Errors) == 0 {
		return ""
	}
	return parsed.Errors[0].Message
}

func hasParam(header, param string) bool {
	return strings.Contains(header, param)
}

// localDialer dials from the given loopback source address, to play a
// second client machine.
func localDialer(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
}

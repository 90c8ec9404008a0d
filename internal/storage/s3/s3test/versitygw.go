// Package s3test starts a real S3-compatible server, versitygw, on a free
// loopback port for tests of the S3 store and of replicas sharing a bucket.
package s3test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pullcache/pullcache/internal/testproc"
)

// Static credentials of the gateway's root account. They protect nothing:
// the gateway listens on loopback and lives only as long as one test.
const (
	AccessKey = "pullcache-test"
	SecretKey = "pullcache-test-secret"
	Region    = "us-east-1"
)

// readyTimeout bounds the wait for the gateway to respond.
const readyTimeout = 10 * time.Second

// Gateway is a running versitygw with a posix backend in a temporary
// directory.
type Gateway struct {
	// Endpoint is the gateway's base URL, such as http://127.0.0.1:PORT.
	Endpoint string
	// Dir is the backend directory: bucket B's object K is the file Dir/B/K.
	Dir string
}

// Require skips the test when versitygw is not on PATH, or fails it when
// the environment variable CI is "true".
func Require(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("versitygw")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("versitygw is not on PATH and CI=true; install it with: sudo bash scripts/install-test-tools.sh")
	}
	t.Skipf("versitygw is not on PATH; install it with: sudo bash scripts/install-test-tools.sh")
	return ""
}

// Start runs versitygw on 127.0.0.1 and stops it at cleanup. A test that
// builds clients through the SDK's default chain also calls IsolateSDK.
func Start(t testing.TB) *Gateway {
	t.Helper()
	binary := Require(t)

	dir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "versitygw.log")
	addr, err := freeAddr()
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}

	cmd := exec.Command(binary, "--port", addr, "--access", AccessKey, "--secret", SecretKey,
		"--region", Region, "--quiet", "posix", dir)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	g := &Gateway{Endpoint: "http://" + addr, Dir: dir}
	// An unsigned request gets 403 once the gateway is up.
	testproc.Run(t, "versitygw", cmd, logPath, testproc.Options{
		Ready:        testproc.HTTPReady(g.Endpoint + "/"),
		ReadyTimeout: readyTimeout,
		Interval:     50 * time.Millisecond,
		StopTimeout:  5 * time.Second,
	})
	return g
}

// IsolateSDK sets the environment so that an AWS SDK client built by the
// test reads no file or metadata service of this machine.
func IsolateSDK(t testing.TB) {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_PROFILE", "")
}

// Client returns an S3 client of the gateway with the root credentials. It
// is built without the SDK's default chain, so it reads no environment,
// file or instance metadata.
func (g *Gateway) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(g.Endpoint),
		UsePathStyle: true,
		Credentials:  g.Credentials(),
	})
}

// Credentials returns the gateway's static root credentials.
func (g *Gateway) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")
}

// CreateBucket creates a bucket with a name unique to the test.
func (g *Gateway) CreateBucket(t testing.TB) string {
	t.Helper()
	name := bucketName(t.Name())
	_, err := g.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// bucketName turns a test name into a valid, unique bucket name.
func bucketName(testName string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(testName) {
		if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("t-%s-%d", strings.Trim(name, "-"), time.Now().UnixNano()%1_000_000_000)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

package secret

import (
	"context"
	"strings"
	"testing"

	"github.com/pullcache/pullcache/internal/awssim"
)

const (
	simRegion   = "us-east-1"
	otherRegion = "ap-northeast-1"
	hubPassword = "dckr_pat_s3cr3t-password"
	hubUser     = "ciuser"
)

// startAWS starts the simulator and points the SDK's default chain at it
// through the environment, with static test credentials and no instance
// metadata, config or credentials files.
func startAWS(t *testing.T) *awssim.Server {
	t.Helper()

	sim := awssim.StartTest(t)
	sim.Setenv(t, simRegion)
	return sim
}

func resolveOK(t *testing.T, r *Resolver, ref, want string) {
	t.Helper()

	got, err := r.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", ref, err)
	}
	if got != want {
		t.Errorf("Resolve(%q) = %q, want %q", ref, got, want)
	}
}

// resolveFails checks the error's text and that it carries no secret.
func resolveFails(t *testing.T, r *Resolver, ref, want string, secrets ...string) {
	t.Helper()

	_, err := r.Resolve(context.Background(), ref)
	if err == nil {
		t.Fatalf("Resolve(%q) succeeded, want an error containing %q", ref, want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Resolve(%q) error = %v, want it to contain %q", ref, err, want)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("Resolve(%q) error reveals a secret value: %v", ref, err)
		}
	}
}

func TestSecretsManagerByName(t *testing.T) {
	sim := startAWS(t)
	sim.PutSecret(simRegion, "docker-hub", `{"username":"`+hubUser+`","password":"`+hubPassword+`","pulls":200}`)
	sim.PutSecret(simRegion, "plain", hubPassword+"\r\n")
	var r Resolver

	resolveOK(t, &r, "secretsmanager:docker-hub:username", hubUser)
	resolveOK(t, &r, "secretsmanager:docker-hub:password", hubPassword)
	resolveOK(t, &r, "secretsmanager:docker-hub:pulls", "200")
	resolveOK(t, &r, "secretsmanager:plain", hubPassword)
	resolveOK(t, &r, "secretsmanager:plain::AWSCURRENT", hubPassword)

	if n := sim.Requests("GetSecretValue", simRegion); n != 5 {
		t.Errorf("GetSecretValue requests in %s = %d, want 5", simRegion, n)
	}
}

// An ARN holds colons of its own, and its region wins over AWS_REGION.
func TestSecretsManagerByARN(t *testing.T) {
	sim := startAWS(t)
	_, arn := sim.PutSecret(otherRegion, "ecr-pullthroughcache/docker-hub", `{"username":"`+hubUser+`","accessToken":"`+hubPassword+`"}`)
	var r Resolver

	resolveOK(t, &r, "secretsmanager:"+arn+":accessToken", hubPassword)
	resolveOK(t, &r, "secretsmanager:"+arn+":username:AWSCURRENT", hubUser)
	resolveOK(t, &r, "secretsmanager:"+arn, `{"username":"`+hubUser+`","accessToken":"`+hubPassword+`"}`)

	if n := sim.Requests("GetSecretValue", otherRegion); n != 3 {
		t.Errorf("GetSecretValue requests in %s = %d, want 3 (the ARN's region)", otherRegion, n)
	}
	if n := sim.Requests("GetSecretValue", simRegion); n != 0 {
		t.Errorf("GetSecretValue requests in %s = %d, want 0", simRegion, n)
	}

	// By name, the secret is looked for in AWS_REGION, where it is not.
	resolveFails(t, &r, "secretsmanager:ecr-pullthroughcache/docker-hub:accessToken", "ResourceNotFoundException")
}

func TestSecretsManagerVersions(t *testing.T) {
	sim := startAWS(t)
	first, _ := sim.PutSecret(simRegion, "docker-hub", `{"password":"old-password-value"}`)
	second, _ := sim.PutSecret(simRegion, "docker-hub", `{"password":"`+hubPassword+`"}`)
	sim.PutSecret(simRegion, "docker-hub", `{"password":"pending-password-value"}`)
	sim.LabelSecretVersion("docker-hub", second, "AWSCURRENT")
	var r Resolver

	resolveOK(t, &r, "secretsmanager:docker-hub:password", hubPassword)
	resolveOK(t, &r, "secretsmanager:docker-hub:password:AWSCURRENT", hubPassword)
	resolveOK(t, &r, "secretsmanager:docker-hub:password::"+first, "old-password-value")
	resolveOK(t, &r, "secretsmanager:docker-hub:password:AWSCURRENT:"+second, hubPassword)
	resolveFails(t, &r, "secretsmanager:docker-hub:password:AWSCURRENT:"+first, "can't find the specified secret value")
	resolveFails(t, &r, "secretsmanager:docker-hub:password:NOSUCHSTAGE", "not found")
}

// The same Resolver reads the new value after a rotation: nothing is
// cached between calls.
func TestSecretsManagerRotation(t *testing.T) {
	sim := startAWS(t)
	sim.PutSecret(simRegion, "docker-hub", `{"password":"before-rotation"}`)
	var r Resolver

	resolveOK(t, &r, "secretsmanager:docker-hub:password", "before-rotation")
	sim.PutSecret(simRegion, "docker-hub", `{"password":"after-rotation"}`)
	resolveOK(t, &r, "secretsmanager:docker-hub:password", "after-rotation")
	resolveOK(t, &r, "secretsmanager:docker-hub:password:AWSPREVIOUS", "before-rotation")
}

func TestSecretsManagerErrors(t *testing.T) {
	sim := startAWS(t)
	sim.PutSecret(simRegion, "docker-hub", `{"username":"`+hubUser+`","password":"`+hubPassword+`","nested":{"a":1}}`)
	sim.PutSecret(simRegion, "not-json", hubPassword)
	sim.PutSecret(simRegion, "denied", `{"password":"`+hubPassword+`"}`)
	sim.Deny("denied")
	var r Resolver

	resolveFails(t, &r, "secretsmanager:docker-hub:token", `secret docker-hub has no key "token" (it has "nested", "password", "username")`, hubPassword)
	resolveFails(t, &r, "secretsmanager:docker-hub:nested", `key "nested" of secret docker-hub is not a string`, hubPassword)
	resolveFails(t, &r, "secretsmanager:not-json:password", "secret not-json is not a JSON object", hubPassword, hubPassword[:1]+"'")
	resolveFails(t, &r, "secretsmanager:missing", "ResourceNotFoundException")
	resolveFails(t, &r, "secretsmanager:denied:password", "access denied; the AWS identity needs secretsmanager:GetSecretValue", hubPassword)
	resolveFails(t, &r, "secretsmanager:denied:password", "AccessDeniedException", hubPassword)
}

func TestSecretsManagerWrongAccessKey(t *testing.T) {
	sim := startAWS(t)
	sim.PutSecret(simRegion, "docker-hub", hubPassword)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-right-secret-key")
	var r Resolver

	resolveFails(t, &r, "secretsmanager:docker-hub", "AWS rejected the access key", hubPassword)
}

func TestSecretsManagerServiceEndpoint(t *testing.T) {
	sim := startAWS(t)
	sim.PutSecret(simRegion, "docker-hub", hubPassword)
	// The general endpoint is a closed port; the service's own one wins.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sim.URL)
	var r Resolver

	resolveOK(t, &r, "secretsmanager:docker-hub", hubPassword)
}

func TestAWSNoRegion(t *testing.T) {
	startAWS(t)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	var r Resolver

	resolveFails(t, &r, "secretsmanager:docker-hub:password", "no AWS region is set")
	resolveFails(t, &r, "ssm:/ci/docker/token", "no AWS region is set")
}

func TestSSM(t *testing.T) {
	sim := startAWS(t)
	sim.PutParameter(simRegion, "/ci/docker/token", "SecureString", hubPassword)
	sim.PutParameter(simRegion, "/ci/docker/user", "String", hubUser+"\n")
	sim.PutParameter(otherRegion, "/ci/docker/tokyo", "SecureString", hubPassword)
	sim.PutParameter(simRegion, "/ci/docker/denied", "SecureString", hubPassword)
	sim.Deny("/ci/docker/denied")
	var r Resolver

	resolveOK(t, &r, "ssm:/ci/docker/token", hubPassword)
	resolveOK(t, &r, "ssm:/ci/docker/user", hubUser)
	resolveOK(t, &r, "ssm:arn:aws:ssm:"+otherRegion+":"+awssim.Account+":parameter/ci/docker/tokyo", hubPassword)
	resolveFails(t, &r, "ssm:/ci/docker/missing", "ParameterNotFound")
	resolveFails(t, &r, "ssm:/ci/docker/denied", "access denied; the AWS identity needs ssm:GetParameter", hubPassword)

	sim.PutParameter(simRegion, "/ci/docker/token", "SecureString", "rotated-token")
	resolveOK(t, &r, "ssm:/ci/docker/token", "rotated-token")
}

func TestSSMServiceEndpoint(t *testing.T) {
	sim := startAWS(t)
	sim.PutParameter(simRegion, "/ci/docker/token", "SecureString", hubPassword)
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
	t.Setenv("AWS_ENDPOINT_URL_SSM", sim.URL)
	var r Resolver

	resolveOK(t, &r, "ssm:/ci/docker/token", hubPassword)
}

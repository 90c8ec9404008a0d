package awssim

import (
	"net/http"
	"strings"
	"testing"
)

// A request without a Signature Version 4 Authorization header is rejected
// before any operation runs.
func TestUnsignedRequestRejected(t *testing.T) {
	sim, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	sim.PutSecret("us-east-1", "docker-hub", "value")

	req, err := http.NewRequest(http.MethodPost, sim.URL+"/", strings.NewReader(`{"SecretId":"docker-hub"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
		t.Errorf("unsigned request = %d %s, want 403 InvalidSignatureException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	if n := sim.Requests("GetSecretValue", "us-east-1"); n != 0 {
		t.Errorf("GetSecretValue requests = %d, want 0", n)
	}
}

func TestSecretVersionStages(t *testing.T) {
	var s Server
	s.secrets = map[string]*secret{}

	first, arn := s.PutSecret("us-east-1", "docker-hub", "one")
	second, _ := s.PutSecret("us-east-1", "docker-hub", "two")
	third, _ := s.PutSecret("us-east-1", "docker-hub", "three")

	sec := s.findSecret(arn)
	if sec == nil {
		t.Fatalf("findSecret(%s) = nil", arn)
	}
	for stage, want := range map[string]string{"AWSCURRENT": third, "AWSPREVIOUS": second} {
		if v := sec.version("", stage); v == nil || v.id != want {
			t.Errorf("version with %s = %+v, want %s", stage, v, want)
		}
	}
	if v := sec.version(first, ""); v == nil || v.value != "one" || len(v.stages) != 0 {
		t.Errorf("first version = %+v, want value one without stages", v)
	}
}

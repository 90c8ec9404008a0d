package awssim

import (
	"os"
	"testing"
)

func TestSetenvPointsSDKAtSimulator(t *testing.T) {
	s := StartTest(t)
	s.Setenv(t, "eu-west-1")

	for name, want := range map[string]string{
		"AWS_ENDPOINT_URL":          s.URL,
		"AWS_REGION":                "eu-west-1",
		"AWS_ACCESS_KEY_ID":         AccessKeyID,
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		if got := os.Getenv(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

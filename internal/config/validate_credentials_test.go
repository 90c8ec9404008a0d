package config

import "testing"

func TestDockerConfigAloneIsValid(t *testing.T) {
	cfg := Default()
	cfg.Upstreams[0].DockerConfig = true

	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate with docker_config only: %v", err)
	}
}

package awssim

import "testing"

// StartTest starts a simulator that closes at the end of the test, and
// fails the test when it cannot start.
func StartTest(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Setenv points the AWS SDK's default chain in the test's own process at
// the simulator in region, with the environment of Environ, until the end
// of the test.
func (s *Server) Setenv(t testing.TB, region string) {
	t.Helper()
	for name, value := range s.Environ(t.TempDir(), region) {
		t.Setenv(name, value)
	}
}

package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pullcache/pullcache/internal/config"
)

const (
	unitPath = "deploy/systemd/pullcache.service"
	// unitBinary is where the unit expects the release binary.
	unitBinary = "/usr/local/bin/pullcache"
	// maxExposure is the highest `systemd-analyze security` exposure
	// level accepted, times ten: 20 is 2.0, which systemd 252 rates "OK".
	maxExposure = "20"
)

// unitCopy writes the unit into a temporary directory with ExecStart
// pointing at a freshly built pullcache, because systemd-analyze verify
// checks that the ExecStart binary exists and is executable.
func unitCopy(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, unitPath))
	if err != nil {
		t.Fatal(err)
	}
	execStart := "ExecStart=" + unitBinary + " "
	if strings.Count(string(data), execStart) != 1 {
		t.Fatalf("%s does not contain %q once", unitPath, execStart)
	}

	dir := t.TempDir()
	binary := filepath.Join(dir, "pullcache")
	build := exec.Command("go", "build", "-o", binary, "./cmd/pullcache")
	build.Dir = repoRoot
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build pullcache: %v\n%s", err, output)
	}

	unit := filepath.Join(dir, "pullcache.service")
	rewritten := strings.Replace(string(data), execStart, "ExecStart="+binary+" ", 1)
	if err := os.WriteFile(unit, []byte(rewritten), 0o644); err != nil {
		t.Fatal(err)
	}
	return unit
}

func TestSystemdUnitVerifies(t *testing.T) {
	requireTool(t, "systemd-analyze")
	unit := unitCopy(t)

	// verify exits 0 even for an unknown key, so any output is a failure.
	output, err := exec.Command("systemd-analyze", "verify", "--man=no", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify failed: %v\n%s", err, output)
	}
	if len(output) > 0 {
		t.Errorf("systemd-analyze verify printed warnings:\n%s", output)
	}
}

func TestSystemdUnitExposure(t *testing.T) {
	requireTool(t, "systemd-analyze")
	unit := unitCopy(t)

	output, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold="+maxExposure, unit).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security rates the unit above %s (exit %v):\n%s", maxExposure, err, output)
	}
}

// unitSettings returns every Key=value line of a unit file by key.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings := map[string][]string{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		key, value, _ := strings.Cut(line, "=")
		settings[key] = append(settings[key], value)
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return settings
}

func TestSystemdUnitHardening(t *testing.T) {
	settings := unitSettings(t, filepath.Join(repoRoot, unitPath))
	want := map[string]string{
		"DynamicUser":     "yes",
		"StateDirectory":  "pullcache",
		"NoNewPrivileges": "yes",
		"ProtectSystem":   "strict",
		"ProtectHome":     "yes",
		"PrivateTmp":      "yes",
		"Restart":         "on-failure",
		"RestartSec":      "5s",
		// Longer than pullcache's 30 s drain after SIGTERM.
		"TimeoutStopSec": "40s",
		"ExecStart":      unitBinary + " serve --config /etc/pullcache/config.yaml",
	}
	for key, value := range want {
		if !slices.Contains(settings[key], value) {
			t.Errorf("%s = %q, want %q", key, settings[key], value)
		}
	}
}

// TestExampleConfigsLoad checks that the example configuration and the
// image's default configuration pass pullcache's own validation and store
// where the unit and the image give write access.
func TestExampleConfigsLoad(t *testing.T) {
	cases := []struct {
		path, listen, admin string
	}{
		{"deploy/config.example.yaml", "0.0.0.0:5000", "127.0.0.1:9090"},
		{"deploy/image/config.yaml", "0.0.0.0:5000", "0.0.0.0:9090"},
	}
	for _, c := range cases {
		cfg, err := config.Load(filepath.Join(repoRoot, c.path))
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if cfg.Listen != c.listen || cfg.AdminListen != c.admin {
			t.Errorf("%s listens on %s and %s, want %s and %s", c.path, cfg.Listen, cfg.AdminListen, c.listen, c.admin)
		}
		if root := cfg.Storage.Filesystem.Root; root != "/var/lib/pullcache" {
			t.Errorf("%s stores under %s, want /var/lib/pullcache", c.path, root)
		}
	}
}

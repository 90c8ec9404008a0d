package packaging

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/pullcache/pullcache/internal/config"
)

const kubernetesDir = "deploy/kubernetes"

// manifestSet is every object of one manifest file, decoded strictly.
type manifestSet struct {
	file        string
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	claims      map[string]*corev1.PersistentVolumeClaim
	accounts    map[string]*corev1.ServiceAccount
	budgets     []*policyv1.PodDisruptionBudget
}

// documentSeparator splits a YAML stream into its documents.
var documentSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// decodeManifests decodes every document of file into its k8s.io/api type.
// Unknown fields, duplicate fields and unknown kinds are errors.
func decodeManifests(t *testing.T, file string) manifestSet {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	set := manifestSet{
		file:       file,
		configMaps: map[string]*corev1.ConfigMap{},
		claims:     map[string]*corev1.PersistentVolumeClaim{},
		accounts:   map[string]*corev1.ServiceAccount{},
	}
	for i, doc := range documentSeparator.Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s document %d: %v", file, i, err)
		}
		if err := set.add(meta, []byte(doc)); err != nil {
			t.Errorf("%s document %d (%s %s): %v", file, i, meta.APIVersion, meta.Kind, err)
		}
	}
	return set
}

func (s *manifestSet) add(meta metav1.TypeMeta, doc []byte) error {
	switch meta.APIVersion + " " + meta.Kind {
	case "apps/v1 Deployment":
		obj := &appsv1.Deployment{}
		s.deployments = append(s.deployments, obj)
		return yaml.UnmarshalStrict(doc, obj)
	case "v1 Service":
		obj := &corev1.Service{}
		s.services = append(s.services, obj)
		return yaml.UnmarshalStrict(doc, obj)
	case "v1 ConfigMap":
		obj := &corev1.ConfigMap{}
		err := yaml.UnmarshalStrict(doc, obj)
		s.configMaps[obj.Name] = obj
		return err
	case "v1 PersistentVolumeClaim":
		obj := &corev1.PersistentVolumeClaim{}
		err := yaml.UnmarshalStrict(doc, obj)
		s.claims[obj.Name] = obj
		return err
	case "v1 ServiceAccount":
		obj := &corev1.ServiceAccount{}
		err := yaml.UnmarshalStrict(doc, obj)
		s.accounts[obj.Name] = obj
		return err
	case "policy/v1 PodDisruptionBudget":
		obj := &policyv1.PodDisruptionBudget{}
		s.budgets = append(s.budgets, obj)
		return yaml.UnmarshalStrict(doc, obj)
	}
	return fmt.Errorf("unexpected kind; add it to the test's decoder")
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func manifestFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, kubernetesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", kubernetesDir)
	}
	return files
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	for _, file := range manifestFiles(t) {
		set := decodeManifests(t, file)
		if len(set.deployments) != 1 || len(set.services) != 1 {
			t.Errorf("%s has %d Deployments and %d Services, want one of each", file, len(set.deployments), len(set.services))
		}
	}
}

func TestStrictDecodeRejectsUnknownField(t *testing.T) {
	doc := []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  selectorr: {}\n")
	if err := yaml.UnmarshalStrict(doc, &corev1.Service{}); err == nil {
		t.Fatal("a misspelled field decoded without error; the manifest test would miss typos")
	}
}

func TestKubernetesDeployments(t *testing.T) {
	for _, file := range manifestFiles(t) {
		set := decodeManifests(t, file)
		for _, d := range set.deployments {
			checkDeployment(t, set, d)
		}
	}
}

func checkDeployment(t *testing.T, set manifestSet, d *appsv1.Deployment) {
	t.Helper()
	where := filepath.Base(set.file) + " " + d.Name
	pod := d.Spec.Template.Spec

	for key, value := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[key] != value {
			t.Errorf("%s: selector %s=%s does not match the pod labels", where, key, value)
		}
	}
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
		t.Errorf("%s: the pod must run as non-root user 65532, the image's user", where)
	}
	if pod.TerminationGracePeriodSeconds == nil || *pod.TerminationGracePeriodSeconds <= 30 {
		t.Errorf("%s: terminationGracePeriodSeconds must exceed pullcache's 30 s drain", where)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", where, len(pod.Containers))
	}
	c := pod.Containers[0]

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["registry"] != 5000 || ports["admin"] != 9090 {
		t.Errorf("%s: container ports %v, want registry 5000 and admin 9090", where, ports)
	}
	checkHTTPProbe(t, where+" readinessProbe", c.ReadinessProbe, "/readyz")
	checkHTTPProbe(t, where+" livenessProbe", c.LivenessProbe, "/healthz")
	for _, resource := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[resource]; !ok {
			t.Errorf("%s: no %s request", where, resource)
		}
	}

	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts["/etc/pullcache"] == "" {
		t.Errorf("%s: nothing mounted at /etc/pullcache", where)
	}
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil {
			cm := set.configMaps[v.ConfigMap.Name]
			if cm == nil {
				t.Errorf("%s: volume %s names ConfigMap %s, which the file does not define", where, v.Name, v.ConfigMap.Name)
				continue
			}
			if cfg, ok := checkConfigMapConfig(t, where, cm); ok {
				checkStorageVolumes(t, where, set, pod, c, mounts, cfg)
			}
		}
		if v.PersistentVolumeClaim != nil && set.claims[v.PersistentVolumeClaim.ClaimName] == nil {
			t.Errorf("%s: volume %s names claim %s, which the file does not define", where, v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}
	if name := pod.ServiceAccountName; name != "" && set.accounts[name] == nil {
		t.Errorf("%s: service account %s is not defined in the file", where, name)
	}

	for _, svc := range set.services {
		for key, value := range svc.Spec.Selector {
			if d.Spec.Template.Labels[key] != value {
				t.Errorf("%s: Service %s selects %s=%s, which the pods do not carry", where, svc.Name, key, value)
			}
		}
		for _, p := range svc.Spec.Ports {
			if name := p.TargetPort.String(); ports[name] == 0 {
				t.Errorf("%s: Service %s targets port %q, which the container does not name", where, svc.Name, name)
			}
		}
	}
	for _, pdb := range set.budgets {
		for key, value := range pdb.Spec.Selector.MatchLabels {
			if d.Spec.Template.Labels[key] != value {
				t.Errorf("%s: PodDisruptionBudget %s selects %s=%s, which the pods do not carry", where, pdb.Name, key, value)
			}
		}
	}
}

func checkHTTPProbe(t *testing.T, where string, probe *corev1.Probe, path string) {
	t.Helper()
	if probe == nil || probe.HTTPGet == nil {
		t.Errorf("%s: missing or not an HTTP GET", where)
		return
	}
	if probe.HTTPGet.Path != path || probe.HTTPGet.Port.String() != "admin" {
		t.Errorf("%s: GET %s on port %s, want %s on the admin port", where, probe.HTTPGet.Path, probe.HTTPGet.Port.String(), path)
	}
}

// checkConfigMapConfig loads the ConfigMap's config.yaml with pullcache's
// own loader, as the pod will, and returns it.
func checkConfigMapConfig(t *testing.T, where string, cm *corev1.ConfigMap) (config.Config, bool) {
	t.Helper()
	data, ok := cm.Data["config.yaml"]
	if !ok {
		t.Errorf("%s: ConfigMap %s has no config.yaml", where, cm.Name)
		return config.Config{}, false
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}

	cfg, err := config.Load(path)
	if err != nil {
		t.Errorf("%s: ConfigMap %s config.yaml: %v", where, cm.Name, err)
		return config.Config{}, false
	}
	if cfg.Listen != "0.0.0.0:5000" || cfg.AdminListen != "0.0.0.0:9090" {
		t.Errorf("%s: config listens on %s and %s, want 0.0.0.0:5000 and 0.0.0.0:9090 for the container ports and probes", where, cfg.Listen, cfg.AdminListen)
	}
	return cfg, true
}

func TestContainerdHostsExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, kubernetesDir, "containerd-hosts.toml"))
	if err != nil {
		t.Fatal(err)
	}
	// containerd 1.6 ignores a hosts.toml without a [host] table; the
	// end-to-end image test pulls through pullcache with this file.
	if !bytes.Contains(data, []byte("\n[host.\"http://")) || !bytes.Contains(data, []byte(`capabilities = ["pull", "resolve"]`)) {
		t.Errorf("containerd-hosts.toml lacks a [host] table with pull and resolve capabilities:\n%s", data)
	}
}

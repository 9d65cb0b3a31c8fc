package deploytest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// secretName is the Secret every credential comes from; it is created by the
// operator (docs/deploy.md), never committed.
const secretName = "stripeline-secrets"

// cluster is the kustomization's output, decoded into Kubernetes' API types.
type cluster struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	jobs        map[string]*batchv1.Job
	configMaps  map[string]*corev1.ConfigMap
	rules       []*PrometheusRule
	podMonitors []*PodMonitor
}

// buildK8s runs `kustomize build deployments/k8s` in process and decodes every
// object strictly: a field the API type does not have fails the test.
func buildK8s(t *testing.T) cluster {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "deployments", "k8s")
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	out, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build deployments/k8s: %v", err)
	}
	c := cluster{
		deployments: map[string]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
		hpas:        map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		jobs:        map[string]*batchv1.Job{},
		configMaps:  map[string]*corev1.ConfigMap{},
	}
	for _, r := range out.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		gvk := r.GetGvk()
		id := gvk.ApiVersion() + " " + gvk.Kind + " " + r.GetName()
		var obj any
		switch gvk.ApiVersion() + "/" + gvk.Kind {
		case "apps/v1/Deployment":
			d := &appsv1.Deployment{}
			c.deployments[r.GetName()], obj = d, d
		case "v1/Service":
			s := &corev1.Service{}
			c.services[r.GetName()], obj = s, s
		case "policy/v1/PodDisruptionBudget":
			p := &policyv1.PodDisruptionBudget{}
			c.pdbs, obj = append(c.pdbs, p), p
		case "autoscaling/v2/HorizontalPodAutoscaler":
			h := &autoscalingv2.HorizontalPodAutoscaler{}
			c.hpas[r.GetName()], obj = h, h
		case "batch/v1/Job":
			j := &batchv1.Job{}
			c.jobs[r.GetName()], obj = j, j
		case "v1/ConfigMap":
			m := &corev1.ConfigMap{}
			c.configMaps[r.GetName()], obj = m, m
		case "v1/Namespace":
			obj = &corev1.Namespace{}
		case "monitoring.coreos.com/v1/PrometheusRule":
			r := &PrometheusRule{}
			c.rules, obj = append(c.rules, r), r
		case "monitoring.coreos.com/v1/PodMonitor":
			m := &PodMonitor{}
			c.podMonitors, obj = append(c.podMonitors, m), m
		case "v1/Secret":
			t.Errorf("%s: a Secret is committed; credentials come from the operator's %s", id, secretName)
			continue
		default:
			t.Errorf("%s: a kind this test does not know how to check", id)
			continue
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	return c
}

func TestK8sEveryFileIsInTheKustomization(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "deployments", "k8s")
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kusttypes.Kustomization
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		name := filepath.Base(f)
		if name != "kustomization.yaml" && !slices.Contains(k.Resources, name) {
			t.Errorf("deployments/k8s/%s is not in kustomization.yaml's resources: it would never be applied", name)
		}
	}
}

func TestK8sWorkloads(t *testing.T) {
	c := buildK8s(t)
	for svc, port := range DesignPorts {
		d, ok := c.deployments[svc]
		if !ok {
			t.Errorf("no Deployment %s", svc)
			continue
		}
		podLabels := d.Spec.Template.Labels
		if d.Spec.Selector == nil || !subset(d.Spec.Selector.MatchLabels, podLabels) {
			t.Errorf("Deployment %s: selector does not match its pods", svc)
		}
		pod := d.Spec.Template.Spec
		if len(pod.Containers) != 1 {
			t.Fatalf("Deployment %s: %d containers, want 1", svc, len(pod.Containers))
		}
		ctr := pod.Containers[0]
		checkContainer(t, "Deployment "+svc, pod, ctr)
		if !strings.HasPrefix(ctr.Image, "stripeline/"+svc+":") {
			t.Errorf("Deployment %s runs image %q, want stripeline/%s:<tag>", svc, ctr.Image, svc)
		}
		if got := containerPort(ctr, intstr.FromString("http")); got != port {
			t.Errorf("Deployment %s: port http = %d, docs/design.md says %d", svc, got, port)
		}
		// Probes and scraping go to the ops listener: the public port has
		// no /readyz and no /metrics.
		opsPort := OpsPorts[svc]
		if opsPort != port {
			if got := containerPort(ctr, intstr.FromString("ops")); got != opsPort {
				t.Errorf("Deployment %s: port ops = %d, docs/design.md says %d", svc, got, opsPort)
			}
		}
		for _, p := range []struct {
			name     string
			probe    *corev1.Probe
			path     string
			optional bool
		}{{"readinessProbe", ctr.ReadinessProbe, "/readyz", false}, {"livenessProbe", ctr.LivenessProbe, "/healthz", false}, {"startupProbe", ctr.StartupProbe, "/healthz", true}} {
			if p.probe == nil && p.optional {
				continue
			}
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("Deployment %s: no HTTP %s", svc, p.name)
				continue
			}
			if p.probe.HTTPGet.Path != p.path || containerPort(ctr, p.probe.HTTPGet.Port) != opsPort {
				t.Errorf("Deployment %s: %s GET %s on %s, want %s on the ops port %d", svc, p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path, opsPort)
			}
		}
		ann := d.Spec.Template.Annotations
		if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(opsPort) || ann["prometheus.io/path"] != "/metrics" {
			t.Errorf("Deployment %s: pod annotations %v, want prometheus.io/scrape \"true\", port \"%d\" (the ops port), path /metrics", svc, ann, opsPort)
		}
		grace := int64(30)
		if pod.TerminationGracePeriodSeconds != nil {
			grace = *pod.TerminationGracePeriodSeconds
		}
		if grace <= 10 {
			t.Errorf("Deployment %s: terminationGracePeriodSeconds %d does not cover SHUTDOWN_GRACE (10s)", svc, grace)
		}

		s, ok := c.services[svc]
		if !ok {
			t.Errorf("no Service %s", svc)
		} else if len(s.Spec.Selector) == 0 || !subset(s.Spec.Selector, podLabels) {
			t.Errorf("Service %s selector %v does not select Deployment %s's pods %v", svc, s.Spec.Selector, svc, podLabels)
		} else if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != int32(port) || containerPort(ctr, s.Spec.Ports[0].TargetPort) != port {
			t.Errorf("Service %s ports %+v, want %d to the container's %d", svc, s.Spec.Ports, port, port)
		}

		if !slices.ContainsFunc(c.pdbs, func(p *policyv1.PodDisruptionBudget) bool {
			return p.Spec.Selector != nil && len(p.Spec.Selector.MatchLabels) > 0 && subset(p.Spec.Selector.MatchLabels, podLabels)
		}) {
			t.Errorf("no PodDisruptionBudget selects Deployment %s's pods", svc)
		}
	}
}

func TestK8sScaling(t *testing.T) {
	c := buildK8s(t)
	for _, svc := range []string{"api", "webhook-ingest", "notifier"} {
		h, ok := c.hpas[svc]
		if !ok {
			t.Errorf("no HorizontalPodAutoscaler %s", svc)
			continue
		}
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.Name != svc {
			t.Errorf("HPA %s scales %s %s, want Deployment %s", svc, ref.Kind, ref.Name, svc)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas <= *h.Spec.MinReplicas {
			t.Errorf("HPA %s: min %v max %d, want min >= 2 (one replica is no availability) and max above it", svc, h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
		if len(h.Spec.Metrics) == 0 {
			t.Errorf("HPA %s: no metric", svc)
		}
	}
	if _, ok := c.hpas["event-writer"]; ok {
		t.Error("HPA event-writer: its replicas are bounded by the partition count, scale it by hand")
	}

	job := topicJob(t, c)
	script := strings.Join(append(slices.Clone(job.Command), job.Args...), " ")
	flag := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(script)
		if m == nil {
			t.Errorf("kafka-topics Job script has no %s:\n%s", re, script)
			return "0"
		}
		return m[1]
	}
	partitions, _ := strconv.Atoi(flag(`--partitions (\d+)`))
	if rf := flag(`--replication-factor (\d+)`); rf != "3" {
		t.Errorf("kafka-topics Job: replication factor %s, want 3", rf)
	}
	if isr := flag(`min\.insync\.replicas=(\d+)`); isr != "2" {
		t.Errorf("kafka-topics Job: min.insync.replicas %s, want 2", isr)
	}
	ms, _ := strconv.ParseInt(flag(`retention\.ms=(-?\d+)`), 10, 64)
	if ms != -1 && time.Duration(ms)*time.Millisecond < 7*24*time.Hour {
		t.Errorf("kafka-topics Job: retention.ms %d is under a week: too short to replay", ms)
	}
	if !strings.Contains(script, `"$KAFKA_TOPIC.poison"`) {
		t.Errorf("kafka-topics Job does not create the poison topic:\n%s", script)
	}
	if strings.Contains(script, "compact") && !strings.Contains(script, "cleanup.policy=delete") {
		t.Error("kafka-topics Job: compaction would keep only the last event per transaction")
	}
	w := c.deployments["event-writer"]
	if w == nil || w.Spec.Replicas == nil {
		t.Fatal("Deployment event-writer sets no replicas")
	}
	if r := int(*w.Spec.Replicas); r > partitions || r < 2 {
		t.Errorf("event-writer replicas %d: want 2..%d (the partition count; more replicas sit idle)", r, partitions)
	}
}

func topicJob(t *testing.T, c cluster) corev1.Container {
	t.Helper()
	for _, j := range c.jobs {
		for _, ctr := range j.Spec.Template.Spec.Containers {
			if strings.HasPrefix(ctr.Image, "apache/kafka:") {
				return ctr
			}
		}
	}
	t.Fatal("no Job creates the topics (apache/kafka kafka-topics.sh)")
	return corev1.Container{}
}

func TestK8sMigrationJob(t *testing.T) {
	c := buildK8s(t)
	for name, j := range c.jobs {
		for _, ctr := range j.Spec.Template.Spec.Containers {
			if strings.HasPrefix(ctr.Image, "stripeline/event-writer:") && slices.Equal(ctr.Args, []string{"migrate"}) {
				checkContainer(t, "Job "+name, j.Spec.Template.Spec, ctr)
				return
			}
		}
	}
	t.Error("no Job runs `event-writer migrate`")
}

// TestK8sSettings checks every container of ours against what its service's
// source reads: everything without a default is set, nothing else is.
func TestK8sSettings(t *testing.T) {
	c := buildK8s(t)
	check := func(where string, pod corev1.PodSpec) {
		for _, ctr := range pod.Containers {
			svc := ourService(ctr.Image)
			if svc == "" {
				continue
			}
			settings := mustSettings(t, svc)
			if len(ctr.EnvFrom) > 0 {
				t.Errorf("%s: envFrom hands over every key, read or not; list the settings in env", where)
			}
			given := map[string]corev1.EnvVar{}
			for _, e := range ctr.Env {
				given[e.Name] = e
				if _, ok := settings[e.Name]; !ok {
					t.Errorf("%s sets %s, which %s does not read (a typo?); it reads %v", where, e.Name, svc, settings.Names())
				}
				checkEnvSource(t, where, e, c.configMaps)
			}
			for _, s := range settings {
				if _, ok := given[s.Name]; s.MustBeSet() && !ok {
					t.Errorf("%s: %s reads %s, which has no default, and the manifest does not set it", where, svc, s.Name)
				}
			}
		}
	}
	for name, d := range c.deployments {
		check("Deployment "+name, d.Spec.Template.Spec)
		svc := ourService(d.Spec.Template.Spec.Containers[0].Image)
		if port, ok := DesignPorts[svc]; ok {
			addr := addrSetting(t, svc, mustSettings(t, svc))
			want := fmt.Sprintf("0.0.0.0:%d", port)
			if e := envVar(d.Spec.Template.Spec.Containers[0], addr.Name); e.Value != want {
				t.Errorf("Deployment %s: %s = %q, want %q (the default listens on loopback only)", name, addr.Name, e.Value, want)
			}
			ops := opsAddrSetting(t, svc, mustSettings(t, svc))
			want = fmt.Sprintf("0.0.0.0:%d", OpsPorts[svc])
			if e := envVar(d.Spec.Template.Spec.Containers[0], ops.Name); e.Value != want {
				t.Errorf("Deployment %s: %s = %q, want %q (probes and scrapers come to the pod's address)", name, ops.Name, e.Value, want)
			}
		}
	}
	for name, j := range c.jobs {
		check("Job "+name, j.Spec.Template.Spec)
	}
}

// checkEnvSource: credentials come from the Secret, the rest from the ConfigMap
// the kustomization generates, and a referenced key must exist there.
func checkEnvSource(t *testing.T, where string, e corev1.EnvVar, configMaps map[string]*corev1.ConfigMap) {
	t.Helper()
	if IsSecret(e.Name) {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != secretName {
			t.Errorf("%s: %s is a credential: it must come from Secret %s", where, e.Name, secretName)
		}
		return
	}
	if e.ValueFrom == nil || e.ValueFrom.ConfigMapKeyRef == nil {
		return
	}
	ref := e.ValueFrom.ConfigMapKeyRef
	cm, ok := configMaps[ref.Name]
	if !ok {
		t.Errorf("%s: %s refers to ConfigMap %s, which the kustomization does not make", where, e.Name, ref.Name)
		return
	}
	if _, ok := cm.Data[ref.Key]; !ok && (ref.Optional == nil || !*ref.Optional) {
		t.Errorf("%s: %s refers to key %s, missing from ConfigMap %s: the pod would not start", where, e.Name, ref.Key, ref.Name)
	}
}

func TestK8sImagesAndNoSecrets(t *testing.T) {
	c := buildK8s(t)
	pods := map[string]corev1.PodSpec{}
	for n, d := range c.deployments {
		pods["Deployment "+n] = d.Spec.Template.Spec
	}
	for n, j := range c.jobs {
		pods["Job "+n] = j.Spec.Template.Spec
	}
	for where, pod := range pods {
		for _, ctr := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
			if why := ImagePinned(ctr.Image); why != "" {
				t.Errorf("%s: image %q: %s", where, ctr.Image, why)
			}
			if ctr.Resources.Requests.Cpu().IsZero() || ctr.Resources.Requests.Memory().IsZero() || ctr.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s: container %s wants CPU and memory requests and a memory limit", where, ctr.Name)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(repoRoot(t), "deployments", "k8s", "*"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if s := FindRealSecret(string(raw)); s != "" || strings.Contains(string(raw), "whsec_") {
			t.Errorf("deployments/k8s/%s holds a credential-looking value %q", filepath.Base(f), s)
		}
	}
	for name, cm := range c.configMaps {
		for k := range cm.Data {
			if IsSecret(k) {
				t.Errorf("ConfigMap %s holds the credential %s; it belongs in Secret %s", name, k, secretName)
			}
		}
	}
}

// checkContainer holds what every container of ours must: non-root, a
// read-only root, no privilege escalation.
func checkContainer(t *testing.T, where string, pod corev1.PodSpec, ctr corev1.Container) {
	t.Helper()
	nonRoot := pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot
	sc := ctr.SecurityContext
	if sc != nil && sc.RunAsNonRoot != nil {
		nonRoot = *sc.RunAsNonRoot
	}
	if !nonRoot {
		t.Errorf("%s: runAsNonRoot is not set", where)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: want readOnlyRootFilesystem and no privilege escalation", where)
	}
}

// ourService is the service an image of ours runs, or "" for another image.
func ourService(image string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(image, "stripeline/"), ":")
	if !strings.HasPrefix(image, "stripeline/") {
		return ""
	}
	return name
}

func containerPort(ctr corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range ctr.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return 0
}

func envVar(ctr corev1.Container, name string) corev1.EnvVar {
	for _, e := range ctr.Env {
		if e.Name == name {
			return e
		}
	}
	return corev1.EnvVar{}
}

func subset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

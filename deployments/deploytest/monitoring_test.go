package deploytest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/testenv"
)

func readMonitoring(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deployments", "monitoring", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// monitoredExprs are every PromQL expression shipped: the compose rules, the
// Kubernetes PrometheusRule (which must hold the same groups) and the
// dashboard's panels, by where they are.
func monitoredExprs(t *testing.T) map[string]string {
	t.Helper()
	rules, err := ParseRules(readMonitoring(t, "rules.yml"))
	if err != nil {
		t.Fatalf("deployments/monitoring/rules.yml: %v", err)
	}
	c := buildK8s(t)
	if len(c.rules) != 1 {
		t.Fatalf("%d PrometheusRules in deployments/k8s, want 1", len(c.rules))
	}
	if !reflect.DeepEqual(c.rules[0].Spec, rules) {
		t.Errorf("the PrometheusRule of deployments/k8s/monitoring.yaml and deployments/monitoring/rules.yml differ:\n%+v\n%+v", c.rules[0].Spec, rules)
	}
	dash, err := DashboardExprs(readMonitoring(t, "grafana-dashboard.json"))
	if err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	out := map[string]string{}
	for name, e := range rules.Exprs() {
		out["alert "+name] = e
	}
	for name, e := range dash {
		out["panel "+name] = e
	}
	return out
}

// The alerts and panels issue 20 asks for are there, and each names the
// metrics it is about.
func TestMonitoringCoversTheService(t *testing.T) {
	exprs := monitoredExprs(t)
	named := map[string][]string{} // metric: where
	for where, e := range exprs {
		names, err := MetricNames(e)
		if err != nil {
			t.Errorf("%s: %v", where, err)
		}
		for _, n := range names {
			named[n] = append(named[n], where)
		}
	}
	for _, alert := range []string{
		"StripelineWriterLagGrowing", "StripelinePoisonMessage", "StripelineIngestAnswers503",
		"StripelineNotifierNotReady", "StripelineNotifierClosingSlowClients", "StripelineStripeErrors",
	} {
		if _, ok := exprs["alert "+alert]; !ok {
			t.Errorf("no alert %s", alert)
		}
	}
	for _, m := range []string{
		"stripeline_webhook_requests_total", "stripeline_webhook_request_duration_seconds_bucket",
		"event_writer_consumer_lag", "event_writer_rows_inserted_total", "event_writer_poison_total",
		"notifier_connections", "notifier_subscriptions_pinned", "notifier_deliveries_total",
		"notifier_refused_total", "notifier_delivery_seconds_bucket",
		"stripeline_api_requests_total", "stripeline_api_stripe_seconds_count", "stripeline_ready",
	} {
		if !slices.ContainsFunc(named[m], func(w string) bool { return strings.HasPrefix(w, "panel ") }) {
			t.Errorf("no dashboard panel shows %s", m)
		}
	}
}

// Every Deployment of ours is scraped on its ops port by one PodMonitor,
// with the job named after the service, as the rules expect.
func TestPodMonitorsScrapeEveryOpsPort(t *testing.T) {
	c := buildK8s(t)
	for name, d := range c.deployments {
		svc := d.Spec.Template.Labels["app.kubernetes.io/name"]
		opsPort, ok := OpsPorts[svc]
		if !ok {
			continue
		}
		var scraped []string
		for _, m := range c.podMonitors {
			if m.Spec.JobLabel != "app.kubernetes.io/name" || !selects(m, svc) {
				continue
			}
			for _, ep := range m.Spec.PodMetricsEndpoints {
				for _, ctr := range d.Spec.Template.Spec.Containers {
					for _, p := range ctr.Ports {
						if p.Name == ep.Port && int(p.ContainerPort) == opsPort && ep.Path == "/metrics" {
							scraped = append(scraped, m.Name)
						}
					}
				}
			}
		}
		if len(scraped) != 1 {
			t.Errorf("Deployment %s: scraped on its ops port %d by %v, want exactly one PodMonitor with jobLabel app.kubernetes.io/name", name, opsPort, scraped)
		}
	}
}

func selects(m *PodMonitor, svc string) bool {
	sel := m.Spec.Selector
	if v, ok := sel.MatchLabels["app.kubernetes.io/name"]; ok && v != svc {
		return false
	}
	for _, e := range sel.MatchExpressions {
		if e.Key == "app.kubernetes.io/name" && e.Operator == "In" && !slices.Contains(e.Values, svc) {
			return false
		}
	}
	return true
}

// Every metric the dashboard and the alerts name is one a service exports:
// the four services run (their real binaries, registries and wiring), one
// request goes through, and their /metrics are read.
func TestMonitoringNamesExportedMetrics(t *testing.T) {
	exprs := monitoredExprs(t)
	exported := exportedMetrics(t)
	for where, e := range exprs {
		names, err := MetricNames(e)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		for _, n := range names {
			if _, ok := exported[n]; !ok {
				t.Errorf("%s names %s, which no service exports", where, n)
			}
		}
	}
}

// exportedMetrics runs the stack and returns the sample names the services'
// /metrics serve (a histogram's _bucket, _sum and _count), with who serves
// each.
func exportedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	var log testenv.Buffer
	if err := devstack.BuildServices(ctx, filepath.Join(tmp, "bin"), &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	stack, err := devstack.StartStack(ctx, devstack.StackConfig{
		BinDir: filepath.Join(tmp, "bin"), DatabaseURL: testenv.Database(t),
		Log: func(string) io.Writer { return &log },
	})
	if err != nil {
		t.Fatalf("start stack: %v\n%s", err, log.String())
	}
	defer stack.Close()
	// The api's route metrics, and ingest's latency, have a child once a
	// request was answered: one of each.
	if resp, err := http.Get(stack.URL("api") + "/Stripe/config"); err == nil {
		resp.Body.Close()
	}
	body := []byte(`{"id":"evt_monitoring","object":"event","type":"charge.succeeded","data":{"object":{"id":"ch_monitoring","object":"charge"}}}`)
	req, _ := http.NewRequest(http.MethodPost, stack.URL("webhook-ingest")+"/webhooks/stripe", bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", stripeevent.Sign(body, time.Now(), stack.Config.WebhookSecret))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	out := map[string][]string{}
	// The writer's lag gauge appears at its first poll.
	testenv.Eventually(t, 30*time.Second, func() error {
		clear(out)
		for _, svc := range devstack.Services {
			fams, err := scrape(stack.OpsURL(svc) + "/metrics")
			if err != nil {
				return fmt.Errorf("%s: %w", svc, err)
			}
			for _, f := range fams {
				for _, n := range sampleNames(f) {
					out[n] = append(out[n], svc)
				}
			}
		}
		if _, ok := out["event_writer_consumer_lag"]; !ok {
			return fmt.Errorf("event_writer_consumer_lag not exported yet")
		}
		return nil
	})
	return out
}

func scrape(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

func sampleNames(f *dto.MetricFamily) []string {
	n := f.GetName()
	switch f.GetType() {
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return []string{n + "_bucket", n + "_sum", n + "_count"}
	case dto.MetricType_SUMMARY:
		return []string{n, n + "_sum", n + "_count"}
	}
	return []string{n}
}

// docker compose --profile monitoring runs a Prometheus with the rules file
// and a scrape job per service, named as the rules expect, on its ops port.
func TestComposePrometheusScrapesEveryService(t *testing.T) {
	all := maps.Clone(composeSecrets)
	p, err := loadComposeWith(t, all, cli.WithoutEnvironmentResolution, cli.WithProfiles([]string{"monitoring"}))
	if err != nil {
		t.Fatal(err)
	}
	prom := service(t, p, "prometheus")
	mounts := map[string]string{}
	for _, v := range prom.Volumes {
		rel, err := filepath.Rel(repoRoot(t), v.Source)
		if err != nil {
			t.Fatal(err)
		}
		mounts[v.Target] = filepath.ToSlash(rel)
	}
	if mounts["/etc/prometheus/prometheus.yml"] != "deployments/monitoring/prometheus.yml" || mounts["/etc/prometheus/rules.yml"] != "deployments/monitoring/rules.yml" {
		t.Errorf("prometheus mounts %v, want deployments/monitoring/prometheus.yml and rules.yml", mounts)
	}
	var cfg struct {
		Global        map[string]string `json:"global"`
		RuleFiles     []string          `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName      string `json:"job_name"`
			DNSSDConfigs []struct {
				Names []string `json:"names"`
				Type  string   `json:"type"`
				Port  int      `json:"port"`
			} `json:"dns_sd_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.UnmarshalStrict(readMonitoring(t, "prometheus.yml"), &cfg); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	if !slices.Contains(cfg.RuleFiles, "/etc/prometheus/rules.yml") {
		t.Errorf("prometheus.yml rule_files %v, want the mounted rules.yml", cfg.RuleFiles)
	}
	jobs := map[string]int{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, d := range sc.DNSSDConfigs {
			if slices.Equal(d.Names, []string{sc.JobName}) {
				jobs[sc.JobName] = d.Port
			}
		}
	}
	for svc, port := range OpsPorts {
		service(t, p, svc) // a compose service of that name, which the DNS name finds
		if jobs[svc] != port {
			t.Errorf("prometheus.yml: job %s scrapes port %d, want a job %s on %s's ops port %d", svc, jobs[svc], svc, svc, port)
		}
	}
}

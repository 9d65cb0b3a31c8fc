package deploytest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/VictoriaMetrics/metricsql"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// RuleGroups is a Prometheus rules file (deployments/monitoring/rules.yml),
// and the spec of a PrometheusRule.
type RuleGroups struct {
	Groups []RuleGroup `json:"groups"`
}

// RuleGroup is one group of alerting and recording rules.
type RuleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []Rule `json:"rules"`
}

// Rule is an alerting rule (Alert) or a recording rule (Record).
type Rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PrometheusRule is the Prometheus Operator's kind of that name, the fields
// deployments/k8s uses.
type PrometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              RuleGroups `json:"spec"`
}

// PodMonitor is the Prometheus Operator's kind of that name, the fields
// deployments/k8s uses.
type PodMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel            string               `json:"jobLabel"`
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// ParseRules decodes a rules file strictly and checks that every rule has
// a name and an expression that parses.
func ParseRules(b []byte) (RuleGroups, error) {
	var rg RuleGroups
	if err := yaml.UnmarshalStrict(b, &rg); err != nil {
		return rg, err
	}
	for _, g := range rg.Groups {
		for _, r := range g.Rules {
			if (r.Alert == "") == (r.Record == "") {
				return rg, fmt.Errorf("group %s: a rule needs exactly one of alert and record: %+v", g.Name, r)
			}
			if _, err := MetricNames(r.Expr); err != nil {
				return rg, fmt.Errorf("rule %s%s: %w", r.Alert, r.Record, err)
			}
		}
	}
	return rg, nil
}

// Exprs are the rules' expressions, by rule name.
func (rg RuleGroups) Exprs() map[string]string {
	out := map[string]string{}
	for _, g := range rg.Groups {
		for _, r := range g.Rules {
			out[r.Alert+r.Record] = r.Expr
		}
	}
	return out
}

// DashboardExprs are the PromQL expressions of a Grafana dashboard's panels
// (rows' nested panels included), by panel title and ref id.
func DashboardExprs(b []byte) (map[string]string, error) {
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var walk func([]json.RawMessage) error
	walk = func(raw []json.RawMessage) error {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				return err
			}
			for _, t := range p.Targets {
				if t.Expr != "" {
					out[p.Title+" "+t.RefID] = t.Expr
				}
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(dash.Panels)
}

// grafanaVariables are the dashboard variables our expressions use, with a
// value that stands for them when parsing.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// MetricNames are the metric names an expression selects, sorted, without
// repeats. It fails on an expression that does not parse, and on a
// selector without a literal name (one cannot check what it names).
func MetricNames(expr string) ([]string, error) {
	e, err := metricsql.Parse(grafanaVariables.Replace(expr))
	if err != nil {
		return nil, fmt.Errorf("%q: %w", expr, err)
	}
	var names []string
	metricsql.VisitAll(e, func(x metricsql.Expr) {
		me, ok := x.(*metricsql.MetricExpr)
		if !ok {
			return
		}
		for _, lfs := range me.LabelFilterss {
			name := ""
			for _, lf := range lfs {
				if lf.Label == "__name__" && !lf.IsRegexp && !lf.IsNegative {
					name = lf.Value
				}
			}
			if name == "" {
				err = fmt.Errorf("%q: a selector without a metric name", expr)
			}
			names = append(names, name)
		}
	})
	slices.Sort(names)
	return slices.Compact(names), err
}

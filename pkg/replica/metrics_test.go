package replica

import (
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Every error kind and content result is a series from the start, at 0,
// so that alerts on their rates see "none yet" rather than no data.
func TestMetricSeriesExistFromStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	newMetrics(reg, "f")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil && c.GetValue() != 0 {
				t.Errorf("%s starts at %v", mf.GetName(), c.GetValue())
			}
			series[mf.GetName()]++
		}
	}
	for name, want := range map[string]int{"jetsync_replica_errors_total": len(errorKinds),
		"jetsync_replica_content_total": len(contentResults), "jetsync_replica_applied_total": 4} {
		if series[name] != want {
			t.Errorf("%s: %d series at start, want %d", name, series[name], want)
		}
	}
}

// docs/METRICS.md lists every series the replica exports.
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	newMetrics(reg, "f")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.Contains(string(doc), "`"+mf.GetName()) {
			t.Errorf("docs/METRICS.md does not list %s", mf.GetName())
		}
	}
}

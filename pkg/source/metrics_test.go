package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetsync/jetsync/pkg/index"
	"github.com/prometheus/client_golang/prometheus"
)

// docs/METRICS.md lists every series the source exports.
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := newMetrics("f", reg, func() float64 { return 0 }, func() float64 { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.Open(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	s := &Source{}
	s.tree.Store(ix)
	reg.MustRegister(newTreeCollector(s, "f"))
	m.errors.WithLabelValues("read")
	m.loss.WithLabelValues(lossPurged)
	m.served.WithLabelValues("ok")
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

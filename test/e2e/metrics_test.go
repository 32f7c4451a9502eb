package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// TestDashboardsNameRealMetrics: the Grafana dashboard and the Prometheus
// alert rules in deploy/ name only series that real daemons export, so a
// renamed metric cannot leave an alert silently watching nothing. The
// source's scrape includes the replica's broker view once it reports.
func TestDashboardsNameRealMetrics(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(15)))
	srcMetrics, repMetrics := harness.FreeAddr(t), harness.FreeAddr(t)
	tr := harness.StartTrioWith(t, "dash", src, []string{"--metrics", srcMetrics}, []string{"--metrics", repMetrics})
	harness.Converge(t, 2*time.Minute, tr.URL, tr.Folder, src, tr.Dst)

	exported := map[string]bool{}
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		for _, a := range []string{srcMetrics, repMetrics} {
			series, err := harness.Scrape(a)
			if err != nil {
				return false, err.Error()
			}
			for s := range series {
				exported[strings.SplitN(s, "{", 2)[0]] = true
			}
		}
		return exported["jetsync_folder_replica_up"], "the source exports no replica yet"
	})
	root := filepath.Join("..", "..", "deploy")
	named := regexp.MustCompile(`jetsync_[a-z_]+`)
	for _, f := range []string{"grafana/jetsync.json", "prometheus/jetsync-rules.yml"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		harness.Must(t, err)
		names := named.FindAllString(string(b), -1)
		if len(names) < 5 {
			t.Fatalf("%s names %d jetsync series: %v", f, len(names), names)
		}
		slices.Sort(names)
		for _, n := range slices.Compact(names) {
			if !exported[n] {
				t.Errorf("%s names %s, which no daemon exports", f, n)
			}
		}
	}
}

package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/treegen"
)

// TestStatus: with a converged broker, source and replica, `jetsync
// status` shows the folder, its source and its one replica with a lag.
func TestStatus(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	must(t, treegen.Generate(src, treegen.SmallSpec(13)))
	tr := startTrio(t, "status-e2e", src)
	converge(t, 2*time.Minute, tr.url, tr.folder, src, tr.dst)

	eventually(t, 30*time.Second, func() (bool, string) {
		res := runCLI(t, 30*time.Second, "status", "--nats", tr.url, "--json", "--log-format", "text")
		if res.code != 0 {
			return false, res.String()
		}
		if msg := checkStatusJSON(res.stdout, tr.folder); msg != "" {
			return false, msg + "\n" + res.stdout
		}
		return true, ""
	})
	for _, args := range [][]string{{}, {"--folder", tr.folder}} {
		res := runCLI(t, 30*time.Second, append([]string{"status", "--nats", tr.url, "--log-format", "text"}, args...)...)
		if res.code != 0 || !strings.Contains(res.stdout, tr.folder) {
			t.Errorf("status %v: want exit 0 and the folder %s named, got %s", args, tr.folder, res)
		}
	}
}

// checkStatusJSON returns what is wrong with the JSON status, or "".
func checkStatusJSON(out, folder string) string {
	var folders []struct {
		Folder   string           `json:"folder"`
		Source   map[string]any   `json:"source"`
		Replicas []map[string]any `json:"replicas"`
	}
	if err := json.Unmarshal([]byte(out), &folders); err != nil {
		return fmt.Sprintf("status --json does not parse: %v", err)
	}
	for _, f := range folders {
		if f.Folder != folder {
			continue
		}
		if f.Source == nil {
			return "no source reported"
		}
		if len(f.Replicas) != 1 {
			return fmt.Sprintf("%d replicas reported, want 1", len(f.Replicas))
		}
		return checkLag(f.Replicas[0])
	}
	return fmt.Sprintf("folder %s not in the status", folder)
}

func checkLag(r map[string]any) string {
	for k, v := range r {
		if strings.Contains(k, "lag") {
			if _, ok := v.(float64); ok {
				return ""
			}
			return fmt.Sprintf("replica %s is %v (%T), not a number", k, v, v)
		}
	}
	return "replica reports no lag"
}

package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// TestStatus: with a converged broker, source and replica, `jetsync
// status` shows the folder, its source and its one replica with a lag.
func TestStatus(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(13)))
	tr := harness.StartTrio(t, "status-e2e", src)
	harness.Converge(t, 2*time.Minute, tr.URL, tr.Folder, src, tr.Dst)

	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		res := harness.RunCLI(t, 30*time.Second, "status", "--nats", tr.URL, "--json", "--log-format", "text")
		if res.Code != 0 {
			return false, res.String()
		}
		if msg := checkStatusJSON(res.Stdout, tr.Folder); msg != "" {
			return false, msg + "\n" + res.Stdout
		}
		return true, ""
	})
	for _, args := range [][]string{{}, {"--folder", tr.Folder}} {
		res := harness.RunCLI(t, 30*time.Second, append([]string{"status", "--nats", tr.URL, "--log-format", "text"}, args...)...)
		if res.Code != 0 || !strings.Contains(res.Stdout, tr.Folder) {
			t.Errorf("status %v: want exit 0 and the folder %s named, got %s", args, tr.Folder, res)
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
		r := f.Replicas[0]
		if applied, _ := r["applied"].(float64); applied < 1 {
			return fmt.Sprintf("replica reports %v records applied after syncing a tree", r["applied"])
		}
		if epoch, _ := r["epoch"].(float64); epoch < 1 {
			return fmt.Sprintf("replica reports epoch %v", r["epoch"])
		}
		return checkLag(r)
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

// TestStatusShowsOfflineReplica: a replica that stops shows, from the
// broker's side, as offline with its pending changes and lag growing
// while the source publishes, and `status --check` exits 2 naming it;
// once it is back and caught up, the check passes again.
func TestStatusShowsOfflineReplica(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(14)))
	tr := harness.StartTrio(t, "status-offline", src)
	harness.Converge(t, 2*time.Minute, tr.URL, tr.Folder, src, tr.Dst)
	check := func() harness.CLIResult {
		return harness.RunCLI(t, 30*time.Second, "status", "--nats", tr.URL, "--folder", tr.Folder, "--check", "--log-format", "text")
	}
	replica := func() map[string]any {
		res := harness.RunCLI(t, 30*time.Second, "status", "--nats", tr.URL, "--folder", tr.Folder, "--json", "--log-format", "text")
		var folders []struct {
			Replicas []map[string]any `json:"replicas"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &folders); err != nil || len(folders) != 1 || len(folders[0].Replicas) > 1 {
			t.Fatalf("status --json: %v\n%s", err, res)
		}
		if len(folders[0].Replicas) == 0 {
			return nil
		}
		return folders[0].Replicas[0]
	}
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		r := replica()
		return r != nil && r["state"] == "live", fmt.Sprint(r)
	})
	if res := check(); res.Code != 0 || !strings.HasPrefix(res.Stdout, "OK:") {
		t.Fatalf("status --check with a live replica: %s", res)
	}

	harness.Must(t, tr.Replica.Stop())
	for i := range 5 {
		harness.WriteFile(t, filepath.Join(src, fmt.Sprintf("while-offline-%d.txt", i)), "new", 0o644)
	}
	var first map[string]any
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		first = replica()
		pending, _ := first["pending"].(float64)
		return first["state"] == "offline" && first["offline_since"] != nil && pending >= 5, fmt.Sprint(first)
	})
	time.Sleep(2 * time.Second)
	second := replica()
	if second["state"] != "offline" || second["lag_seconds"].(float64) <= first["lag_seconds"].(float64) || first["lag_seconds"].(float64) <= 0 {
		t.Fatalf("lag of an offline replica does not grow: %v then %v", first, second)
	}
	res := check()
	if res.Code != 2 || !strings.Contains(res.Stdout, "CRITICAL: "+tr.Folder+" replica r1: offline since") {
		t.Fatalf("status --check with the replica offline: %s", res)
	}

	harness.Must(t, tr.Replica.Start())
	harness.Converge(t, 2*time.Minute, tr.URL, tr.Folder, src, tr.Dst)
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		res := check()
		return res.Code == 0, res.String()
	})
}

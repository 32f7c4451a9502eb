package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// TestStatusPageInBrowser drives the status page (`--http` on the source)
// in headless Chromium: during a sync it shows the replica live; once the
// replica is stopped it shows it offline with a lag that grows, as
// `status --json` does. JETSYNC_REQUIRE_CHROMIUM=1 (set by CI) makes a
// missing browser a failure instead of a skip; JETSYNC_SCREENSHOT=FILE
// saves a screenshot of the page with the replica offline.
func TestStatusPageInBrowser(t *testing.T) {
	t.Parallel()
	browser := findChromium(t)
	src := filepath.Join(t.TempDir(), "src")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(16)))
	page := harness.FreeAddr(t)
	tr := harness.StartTrioWith(t, "page", src, []string{"--http", page}, nil)
	url, rep := tr.URL, tr.Replica
	harness.Converge(t, 2*time.Minute, url, tr.Folder, src, tr.Dst)

	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		row := pageRow(t, browser, page, "r1")
		return row.state == "live", fmt.Sprintf("%+v", row)
	})

	harness.Must(t, rep.Stop())
	for i := range 3 {
		harness.WriteFile(t, filepath.Join(src, fmt.Sprintf("unseen-%d.txt", i)), "x", 0o644)
	}
	var first pageReplica
	harness.Eventually(t, 90*time.Second, func() (bool, string) {
		first = pageRow(t, browser, page, "r1")
		return first.state == "offline" && first.lag > 0 && first.pending >= 3, fmt.Sprintf("%+v", first)
	})
	cli, msg := replicaReport(t, url, "page", "r1")
	if msg != "" {
		t.Fatal(msg)
	}
	if cli.State != "offline" || cli.LagSeconds < first.lag-10 || cli.LagSeconds > first.lag+30 {
		t.Fatalf("page shows %+v, status --json %+v", first, cli)
	}
	time.Sleep(3 * time.Second)
	second := pageRow(t, browser, page, "r1")
	if second.state != "offline" || second.lag <= first.lag {
		t.Fatalf("lag of an offline replica on the page does not grow: %+v then %+v", first, second)
	}
	if out := os.Getenv("JETSYNC_SCREENSHOT"); out != "" {
		runChromium(t, browser, "--window-size=1200,820", "--screenshot="+out, "http://"+page+"/")
	}
}

// pageReplica is what the page shows of a replica.
type pageReplica struct {
	state   string
	lag     float64
	pending float64
}

var rowAttrs = regexp.MustCompile(`<tr data-replica="([^"]*)" data-state="([^"]*)" data-lag="([^"]*)" data-pending="([^"]*)"`)

// pageRow loads the page in the browser, lets its script run, and reads
// the replica's row.
func pageRow(t *testing.T, browser, addr, id string) pageReplica {
	dom := runChromium(t, browser, "--dump-dom", "--virtual-time-budget=3000", "http://"+addr+"/")
	for _, m := range rowAttrs.FindAllStringSubmatch(dom, -1) {
		if m[1] == id {
			lag, _ := strconv.ParseFloat(m[3], 64)
			pending, _ := strconv.ParseFloat(m[4], 64)
			return pageReplica{state: m[2], lag: lag, pending: pending}
		}
	}
	return pageReplica{state: "absent"}
}

func runChromium(t *testing.T, browser string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir()}, args...)
	out, err := exec.CommandContext(ctx, browser, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", browser, args, err)
	}
	return string(out)
}

func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("JETSYNC_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("no chromium on PATH (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH; set JETSYNC_REQUIRE_CHROMIUM=1 to make this a failure")
	return ""
}

// TestBrokerStatusPage: a standalone broker's --http serves the status
// page of every folder on it, its data read in process with the
// monitoring role's rights, next to NATS's own monitoring endpoints.
func TestBrokerStatusPage(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(18)))
	dir := t.TempDir()
	addr, page := harness.FreeAddr(t), harness.FreeAddr(t)
	url := "nats://" + addr
	harness.StartBroker(t, dir+"/broker", addr, "--http", page)
	harness.StartSource(t, "source", url, "bpage", src, dir+"/source")
	harness.StartReplica(t, "replica", url, "bpage", dir+"/dst", dir+"/replica", "r1")
	harness.Converge(t, 2*time.Minute, url, "bpage", src, dir+"/dst")
	get := func(path string) string {
		resp, err := http.Get("http://" + page + path)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Status + "\n" + string(b)
	}
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		body := get("/api/status")
		return strings.Contains(body, `"folder":"bpage"`) && strings.Contains(body, `"id":"r1"`) &&
			strings.Contains(body, `"state":"live"`), body
	})
	for path, want := range map[string]string{"/": "<title>jetsync status</title>", "/varz": `"server_id"`, "/healthz": "ok"} {
		if body := get(path); !strings.HasPrefix(body, "200") || !strings.Contains(body, want) {
			t.Errorf("GET %s: %s", path, harness.FirstLines(body, 5))
		}
	}
}

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/test/harness"
)

// configBox is the files of one side of TestConfigFileFolders.
type configBox struct {
	root, url, brokerAddr string
	httpAddr, srcHTTP     string       // the replica's and the source's --http
	store                 access.Store // the embedded broker's credentials
}

func (b configBox) src(f string) string      { return filepath.Join(b.root, "src", f) }
func (b configBox) dst(f string) string      { return filepath.Join(b.root, "dst", f) }
func (b configBox) cred(f, id string) string { return b.store.Path(access.ReplicaOf(f, id)) }

// sourceConfig is the source's file: an embedded broker and folders.
func (b configBox) sourceConfig(extra string, folders ...string) string {
	s := fmt.Sprintf("log-format = \"text\"\ndata = %q\n%s\nhttp = %q\n[broker]\nlisten = %q\n",
		filepath.Join(b.root, "source"), extra, b.srcHTTP, b.brokerAddr)
	for _, f := range folders {
		s += fmt.Sprintf("\n[[folder]]\nfolder = %q\npath = %q\n", f, b.src(f))
	}
	return s
}

// replicaConfig is the replica's file: its folders, each with its
// credentials.
func (b configBox) replicaConfig(extra string, folders ...string) string {
	s := fmt.Sprintf("log-format = \"text\"\nnats = %q\ndata = %q\nid = \"nas2\"\nhttp = %q\n%s\n",
		b.url, filepath.Join(b.root, "replica"), b.httpAddr, extra)
	for _, f := range folders {
		s += fmt.Sprintf("\n[[folder]]\nfolder = %q\npath = %q\nnkey = %q\n", f, b.dst(f), b.cred(f, "nas2"))
	}
	return s
}

// TestConfigFileFolders runs one source process (embedded broker) and
// one replica process for several folders from their config files, and
// changes the files under them: SIGHUP adds a folder while the others
// keep working (and says a daemon-wide change needs a restart), an
// invalid file changes nothing, and a folder taken out stops being
// replicated with its data left alone; a folder that fails makes
// /healthz fail while the others go on.
func TestConfigFileFolders(t *testing.T) {
	root := t.TempDir()
	b := configBox{root: root, brokerAddr: harness.FreeAddr(t), httpAddr: harness.FreeAddr(t), srcHTTP: harness.FreeAddr(t),
		store: access.Store{Dir: filepath.Join(root, "source", "auth")}}
	b.url = "nats://" + b.brokerAddr
	folders := []string{"alpha", "beta", "gamma"}
	for _, f := range folders {
		for _, id := range []string{"nas2", "e2e-verify"} {
			_, _, err := b.store.Ensure(access.ReplicaOf(f, id))
			harness.Must(t, err)
		}
		harness.WriteFile(t, filepath.Join(b.src(f), "hello.txt"), "hello from "+f+"\n", 0o644)
		harness.WriteFile(t, filepath.Join(b.src(f), "sub", "data.bin"), strings.Repeat(f, 50000), 0o600)
	}
	srcFile, repFile := filepath.Join(root, "source.toml"), filepath.Join(root, "replica.toml")
	harness.WriteFile(t, srcFile, b.sourceConfig("", "alpha", "beta"), 0o600)
	harness.WriteFile(t, repFile, b.replicaConfig("", "alpha", "beta"), 0o600)
	source := harness.Start(t, "source", "source", "--config", srcFile)
	harness.WaitListening(t, b.brokerAddr)
	replica := harness.Start(t, "replica", "replica", "--config", repFile)

	harness.Phase(t, "two folders", func() {
		b.converge(t, "alpha")
		b.converge(t, "beta")
		// One listener serves every folder's series, each with its label.
		harness.Eventually(t, 30*time.Second, func() (bool, string) {
			series, err := harness.Scrape(b.httpAddr)
			if err != nil {
				return false, err.Error()
			}
			for _, f := range []string{"alpha", "beta"} {
				if harness.Metric(series, "jetsync_replica_applied_seq", `folder="`+f+`"`) == 0 {
					return false, "the replica's /metrics has no applied_seq of " + f
				}
			}
			return true, ""
		})
		for _, addr := range []string{b.httpAddr, b.srcHTTP} {
			if code, body := healthz(t, addr); code != http.StatusOK {
				t.Errorf("/healthz of %s: %d %s with every folder running", addr, code, body)
			}
		}
	})

	harness.Phase(t, "SIGHUP adds a folder", func() {
		harness.WriteFile(t, srcFile, b.sourceConfig("", folders...), 0o600)
		// With a daemon-wide change, which needs a restart.
		harness.WriteFile(t, repFile, b.replicaConfig(`memory-limit = "512MiB"`, folders...), 0o600)
		reload(t, source, 1)
		reload(t, replica, 1)
		if got := harness.GrepLines(replica.LastRunLog(), "needs a restart"); !strings.Contains(got, "memory-limit") {
			t.Errorf("the replica did not say the memory limit needs a restart: %q", got)
		}
		b.converge(t, "gamma")
		harness.WriteFile(t, filepath.Join(b.src("alpha"), "after reload.txt"), "written after the reload\n", 0o644)
		b.converge(t, "alpha")
		for _, p := range []*harness.Proc{source, replica} {
			log := p.LastRunLog()
			if n := strings.Count(log, "folder added"); n != 1 || !strings.Contains(harness.GrepLines(log, "folder added"), "folder=gamma") {
				t.Errorf("%s logged %d additions, want gamma's:\n%s", p.Name(), n, harness.GrepLines(log, "folder added"))
			}
			if strings.Contains(log, "folder restarted") || strings.Contains(log, "folder removed") {
				t.Errorf("%s restarted or removed a folder the reload did not change:\n%s", p.Name(), harness.GrepLines(log, "folder re"))
			}
		}
	})

	harness.Phase(t, "an invalid file changes nothing", func() {
		bad := b.replicaConfig("", folders...) + "\n[[folder]]\nfolder = \"delta\"\npath = \"" + b.dst("delta") + "\"\nscan-intervall = \"1m\"\n"
		line := strings.Count(bad, "\n") // the last line: the misspelt key
		harness.WriteFile(t, repFile, bad, 0o600)
		harness.WriteFile(t, srcFile, b.sourceConfig("colour = \"blue\"", folders...), 0o600)
		reload(t, replica, 2)
		reload(t, source, 2)
		want := fmt.Sprintf(`%s:%d: unknown key \"scan-intervall\" in [[folder]]`, repFile, line)
		if got := harness.GrepLines(replica.LastRunLog(), "config not reloaded"); !strings.Contains(got, want) {
			t.Errorf("the replica's log does not name the line (%s):\n%s", want, got)
		}
		if got := harness.GrepLines(source.LastRunLog(), "config not reloaded"); !strings.Contains(got, srcFile+`:3: unknown key \"colour\"`) {
			t.Errorf("the source's log does not name the line:\n%s", got)
		}
		harness.WriteFile(t, filepath.Join(b.src("beta"), "after bad reload.txt"), "written after the bad reload\n", 0o644)
		b.converge(t, "beta")
		b.converge(t, "gamma")
		if _, err := os.Stat(b.dst("delta")); err == nil || strings.Contains(replica.LastRunLog(), "folder=delta") {
			t.Error("the invalid file's new folder was started")
		}
	})

	harness.Phase(t, "SIGHUP removes a folder", func() {
		// From the replica only: the source goes on publishing gamma, so
		// a change of gamma that does not arrive shows the replica stopped.
		harness.WriteFile(t, repFile, b.replicaConfig("", "alpha", "beta"), 0o600)
		reload(t, replica, 3)
		before := harness.CountFiles(b.dst("gamma"))
		harness.WriteFile(t, filepath.Join(b.src("gamma"), "after removal.txt"), "must not arrive\n", 0o644)
		harness.WriteFile(t, filepath.Join(b.src("alpha"), "after removal.txt"), "must arrive\n", 0o644)
		b.converge(t, "alpha")
		time.Sleep(2 * time.Second) // gamma's change had as long as alpha's, and more
		if _, err := os.Stat(filepath.Join(b.dst("gamma"), "after removal.txt")); err == nil {
			t.Error("a change of the removed folder still arrived")
		}
		if n := harness.CountFiles(b.dst("gamma")); n != before || n == 0 {
			t.Errorf("the removed folder's tree has %d files, had %d", n, before)
		}
		if _, err := os.Stat(filepath.Join(root, "replica", "gamma")); err != nil {
			t.Errorf("the removed folder's state: %v", err)
		}
		if got := harness.GrepLines(replica.LastRunLog(), "folder removed"); !strings.Contains(got, "folder=gamma") {
			t.Errorf("the replica did not log gamma's removal: %q", got)
		}
		harness.WriteFile(t, srcFile, b.sourceConfig("", "alpha", "beta"), 0o600)
		reload(t, source, 3)
		if got := harness.GrepLines(source.LastRunLog(), "folder removed"); !strings.Contains(got, "folder=gamma") {
			t.Errorf("the source did not log gamma's removal: %q", got)
		}
	})

	harness.Phase(t, "a failing folder", func() {
		// A tree that is not there: that folder fails and is retried,
		// /healthz says so, and the others go on.
		broken := "\n[[folder]]\nfolder = \"broken\"\npath = \"" + filepath.Join(root, "not-mounted") + "\"\n"
		harness.WriteFile(t, srcFile, b.sourceConfig("", "alpha", "beta")+broken, 0o600)
		reload(t, source, 4)
		harness.Eventually(t, 30*time.Second, func() (bool, string) {
			code, body := healthz(t, b.srcHTTP)
			return code == http.StatusServiceUnavailable && strings.Contains(body, "folder broken"), fmt.Sprintf("/healthz: %d %s", code, body)
		})
		harness.WriteFile(t, filepath.Join(b.src("alpha"), "beside a failing folder.txt"), "still replicated\n", 0o644)
		b.converge(t, "alpha")
	})
	harness.Must(t, harness.CheckAlive(t))
}

// converge waits until folder's replica equals its source, then has
// `jetsync verify` prove it.
func (b configBox) converge(t *testing.T, folder string) {
	t.Helper()
	harness.Eventually(t, convergeTimeout, func() (bool, string) { return harness.SameTree(t, b.src(folder), b.dst(folder)) })
	res := harness.RunCLI(t, 2*time.Minute, "verify", "--nats", b.url, "--nkey", b.cred(folder, "e2e-verify"),
		"--folder", folder, "--path", b.dst(folder), "--log-format", "text")
	if res.Code != 0 {
		harness.FailWithLogs(t, "verify "+folder+": "+res.String())
	}
}

// reload sends SIGHUP to p and waits for its n-th reload, valid or not.
func reload(t *testing.T, p *harness.Proc, n int) {
	t.Helper()
	harness.Must(t, p.Signal(syscall.SIGHUP))
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		log := p.LastRunLog()
		got := strings.Count(log, "config reloaded") + strings.Count(log, "config not reloaded")
		return got >= n, fmt.Sprintf("%s: %d reloads logged, want %d", p.Name(), got, n)
	})
}

// healthz is the status and body of addr's /healthz.
func healthz(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/healthz")
	harness.Must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	harness.Must(t, err)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

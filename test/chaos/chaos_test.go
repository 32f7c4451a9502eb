package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

const (
	folder = "chaos"
	// anchorDir is never touched by the workload, so the source root is
	// never empty (an empty root is refused as an unmounted volume).
	anchorDir = "chaos-anchor"
)

// defaultSeeds run in CI. Add a seed here when it found a bug.
var defaultSeeds = []uint64{1, 2, 3, 4, 5}

// config is what the environment asks of a run (see the package comment).
type config struct {
	seeds    []uint64
	random   bool          // seeds were drawn at random
	duration time.Duration // workload per seed
	converge time.Duration // bound on the final convergence
}

func loadConfig(t *testing.T) config {
	c := config{seeds: defaultSeeds, duration: 13 * time.Second, converge: 90 * time.Second}
	if v := os.Getenv("JETSYNC_SOAK"); v != "" && v != "0" {
		c.duration, c.converge = 3*time.Minute, 3*time.Minute
	}
	if v := os.Getenv("JETSYNC_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("JETSYNC_CHAOS_DURATION=%q: want a positive duration such as 10m", v)
		}
		c.duration = d
		c.converge = max(c.converge, min(d, 5*time.Minute))
	}
	switch seed, seeds := os.Getenv("JETSYNC_CHAOS_SEED"), os.Getenv("JETSYNC_CHAOS_SEEDS"); {
	case seed != "":
		n, err := strconv.ParseUint(seed, 10, 64)
		if err != nil {
			t.Fatalf("JETSYNC_CHAOS_SEED=%q: want an unsigned integer", seed)
		}
		c.seeds = []uint64{n}
	case seeds != "":
		k, err := strconv.Atoi(seeds)
		if err != nil || k <= 0 {
			t.Fatalf("JETSYNC_CHAOS_SEEDS=%q: want a positive count", seeds)
		}
		c.seeds, c.random = nil, true
		for range k {
			c.seeds = append(c.seeds, 1+rand.Uint64N(1<<31))
		}
	}
	return c
}

// stats is what one seed did.
type stats struct {
	ops, faults, terms int
	kills              map[string]int
	converge           time.Duration
}

func (s stats) totalKills() int { return s.kills["broker"] + s.kills["source"] + s.kills["replica"] }

func (s stats) String() string {
	return fmt.Sprintf("ops=%d kills=%d (source %d, replica %d, broker %d) faults=%d sigterm-restarts=%d",
		s.ops, s.totalKills(), s.kills["source"], s.kills["replica"], s.kills["broker"], s.faults, s.terms)
}

// fitDeadline shortens the convergence bound so that a seed ends, and
// reports its failure with its logs, before the go test -timeout panics
// (which would lose them). It reports false if a seed cannot fit at all.
func fitDeadline(t *testing.T, cfg *config) bool {
	deadline, ok := t.Deadline()
	if !ok {
		return true
	}
	const slack = 30 * time.Second // start-up, shutdown, failure report
	left := time.Until(deadline) - cfg.duration - slack
	if left < 20*time.Second {
		return false
	}
	if left < cfg.converge {
		t.Logf("convergence bound cut from %s to %s by the go test -timeout", cfg.converge, left.Round(time.Second))
		cfg.converge = left
	}
	return true
}

func replayCommand(seed uint64) string {
	return fmt.Sprintf("JETSYNC_CHAOS_SEED=%d go test -race -run 'TestChaos/seed=%d' ./test/chaos", seed, seed)
}

// TestChaos runs the chaos loop once per seed: a random workload on the
// source while the driver kill -9's and restarts the broker, the source
// and the replica; then the replica must converge to the source.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos loop takes about 90 s; not with -short")
	}
	cfg := loadConfig(t)
	if cfg.random {
		var list []string
		for _, s := range cfg.seeds {
			list = append(list, strconv.FormatUint(s, 10))
		}
		fmt.Printf("chaos: random seeds %s\n", strings.Join(list, " "))
		t.Logf("random seeds: %s", strings.Join(list, " "))
	}
	t.Logf("%d seeds, workload %s each, convergence bound %s", len(cfg.seeds), cfg.duration, cfg.converge)
	total := stats{kills: map[string]int{}}
	var failed []string
	for _, seed := range cfg.seeds {
		st := stats{kills: map[string]int{}}
		ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			if !fitDeadline(t, &cfg) {
				t.Fatalf("seed=%d not run: too little time left before the go test -timeout; replay: %s", seed, replayCommand(seed))
			}
			runSeed(t, seed, cfg, &st)
		})
		if !ok {
			failed = append(failed, fmt.Sprintf("seed=%d: %s", seed, replayCommand(seed)))
		}
		total.ops += st.ops
		total.faults += st.faults
		total.terms += st.terms
		for k, v := range st.kills {
			total.kills[k] += v
		}
	}
	t.Logf("total over %d seeds: %s", len(cfg.seeds), total)
	if len(failed) > 0 {
		t.Logf("failed seeds, replay with:\n%s", strings.Join(failed, "\n"))
	}
}

// runSeed is one chaos run; it fills in st as it goes, so that a failed
// seed's faults still count.
func runSeed(t *testing.T, seed uint64, cfg config, st *stats) {
	t.Logf("seed=%d; replay: %s", seed, replayCommand(seed))
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(seed)))
	harness.WriteFile(t, filepath.Join(src, anchorDir, "keep.txt"), "never changed by the workload\n", 0o644)
	m, err := loadModel(src, func(rel string) bool { return rel == anchorDir })
	harness.Must(t, err)
	t.Logf("initial tree: %d files, %d dirs, %d symlinks", m.files().len(), m.dirs().len(), m.links().len())

	j := newJournal()
	addr := harness.FreeAddr(t)
	url := "nats://" + addr
	broker := harness.StartBroker(t, filepath.Join(root, "broker-data"), addr)
	source := harness.StartSource(t, "source", url, folder, src, filepath.Join(root, "source-data"))
	replica := harness.StartReplica(t, "replica", url, folder, dst, filepath.Join(root, "replica-data"), "r1")
	converged := false
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed=%d FAILED; replay: %s", seed, replayCommand(seed))
			explainDiffs(t, j, url, src, dst)
			if !hold(t, url, src, dst) && !converged {
				// A daemon that stopped making progress shows where in
				// the goroutine dump this writes to its log (kept below).
				dumpGoroutines(source)
				dumpGoroutines(replica)
			}
			keepArtifacts(t, seed, j, broker, source, replica)
		}
	})

	drv := newDriver(t, seed, j, addr, broker, source, replica)
	w := newWorkload(seed, src, m, j, cfg.duration)
	harness.Phase(t, "workload under chaos", func() {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { drv.run(ctx) })
		wg.Go(func() {
			defer cancel()
			w.run(ctx, cfg.duration)
		})
		wg.Wait()
	})
	*st = stats{ops: w.ops, faults: drv.faults, terms: drv.terms, kills: drv.kills}
	t.Logf("workload: %s; tree now %d files, %d dirs, %d symlinks", opCounts(w.counts), m.files().len(), m.dirs().len(), m.links().len())
	t.Logf("seed=%d %s", seed, st)
	if len(w.errs) > 0 {
		t.Errorf("the workload's own operations failed (a test bug):\n%s", strings.Join(w.errs, "\n"))
	}

	drv.ensureRunning()
	harness.Phase(t, "converge", func() {
		start := time.Now()
		harness.Converge(t, cfg.converge, url, folder, src, dst)
		st.converge, converged = time.Since(start), true
	})
	if n := harness.CountTemps(dst); n > 0 {
		t.Errorf("%d %s* temp files left in the replica after convergence", n, wire.TempPrefix)
	}
	if err := harness.CheckAlive(t); err != nil {
		t.Error(err)
	}
	for _, p := range []*harness.Proc{replica, source, broker} {
		if err := stop(p); err != nil {
			t.Errorf("clean shutdown: %v", err)
		}
	}
	t.Logf("seed=%d converged in %s once the workload stopped", seed, st.converge.Round(time.Millisecond))
}

// opCounts renders how many operations of each kind ran, in ops order.
func opCounts(counts map[string]int) string {
	var b strings.Builder
	for _, name := range append([]string{"burst", "big-file", "pause"}, opNames()...) {
		if n := counts[name]; n > 0 {
			fmt.Fprintf(&b, "%s=%d ", name, n)
		}
	}
	return strings.TrimSpace(b.String())
}

func opNames() []string {
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.name
	}
	return out
}

// keepArtifacts copies the seed's op and fault journal and the daemon
// logs to $JETSYNC_E2E_LOGS as TestChaos-seed=N-*.log (the harness names
// its copies after the top-level test only, so a second failed seed would
// overwrite the first).
func keepArtifacts(t *testing.T, seed uint64, j *journal, procs ...*harness.Proc) {
	dir := os.Getenv("JETSYNC_E2E_LOGS")
	if dir == "" {
		t.Logf("set JETSYNC_E2E_LOGS=DIR to keep the daemon logs and the op journal")
		return
	}
	prefix := filepath.Join(dir, fmt.Sprintf("TestChaos-seed=%d-", seed))
	if err := j.writeTo(prefix + "journal.log"); err != nil {
		t.Logf("keep journal: %v", err)
	}
	for _, p := range procs {
		b, err := os.ReadFile(p.LogPath())
		if err == nil {
			err = os.WriteFile(prefix+p.Name()+".log", b, 0o644)
		}
		if err != nil {
			t.Logf("keep log of %s: %v", p.Name(), err)
		}
	}
	t.Logf("journal and daemon logs: %s*.log", prefix)
}

// explainDiffs logs, for the first paths that still differ between src
// and dst (by treegen.Compare, or by `jetsync verify` when the trees are
// equal but the published state is not), what the workload did to them
// and to their ancestors, with the faults around.
func explainDiffs(t *testing.T, j *journal, url, src, dst string) {
	var paths, lines []string
	diffs, err := treegen.Compare(src, dst)
	if err != nil {
		return
	}
	for _, d := range diffs {
		if p, ok := quotedPath(d); ok {
			paths, lines = append(paths, p), append(lines, d)
		}
	}
	if len(diffs) == 0 {
		paths, lines = verifyDiffs(t, url, dst)
	}
	seen := map[string]bool{}
	var previous string
	for i, p := range paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		if len(seen) > 5 {
			t.Logf("… and %d more differences", len(paths)-i)
			break
		}
		subs := []string{"fault", "start", "exited"}
		for a := p; a != ""; a = parentOf(a) {
			subs = append(subs, strconv.Quote(a))
		}
		story := harness.FirstLines(strings.Join(j.grep(subs...), "\n"), 60)
		if story == previous {
			t.Logf("difference %s\n(journal as above)", lines[i])
			continue
		}
		previous = story
		t.Logf("difference %s\njournal of %q and its ancestors:\n%s", lines[i], p, story)
	}
}

// verifyDiffs lists the paths where `jetsync verify` finds dst different
// from the published state, with a description of each.
func verifyDiffs(t *testing.T, url, dst string) (paths, lines []string) {
	res := harness.Verify(t, url, folder, dst, "--json")
	var rep struct {
		Diffs []struct{ Path, Kind, Want, Got string }
	}
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Logf("jetsync verify --json: %v\n%s", err, res)
		return nil, nil
	}
	for _, d := range rep.Diffs {
		paths = append(paths, d.Path)
		lines = append(lines, fmt.Sprintf("jetsync verify: %s %q (want %q, got %q)", d.Kind, d.Path, d.Want, d.Got))
	}
	return paths, lines
}

// quotedPath extracts the first Go-quoted string of a treegen difference.
func quotedPath(diff string) (string, bool) {
	i := strings.IndexByte(diff, '"')
	if i < 0 {
		return "", false
	}
	q, err := strconv.QuotedPrefix(diff[i:])
	if err != nil {
		return "", false
	}
	p, err := strconv.Unquote(q)
	return p, err == nil
}

// hold keeps a failed seed's daemons and trees alive for inspection when
// JETSYNC_CHAOS_HOLD is set, until the file it names is removed (at most
// 30 minutes). It reports whether it held.
func hold(t *testing.T, url, src, dst string) bool {
	if os.Getenv("JETSYNC_CHAOS_HOLD") == "" {
		return false
	}
	f, err := os.CreateTemp("", "chaos-hold-")
	if err != nil {
		t.Logf("hold: %v", err)
		return false
	}
	f.Close()
	fmt.Fprintf(os.Stderr, "chaos: holding: broker %s, src %s, dst %s; rm %s to go on\n", url, src, dst, f.Name())
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(f.Name()); err != nil {
			break
		}
		time.Sleep(time.Second)
	}
	return true
}

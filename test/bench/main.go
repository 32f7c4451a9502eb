// Command bench measures jetsync side by side with cp and rsync on the
// same deterministic datasets: initial sync, a two-box setup over TCP,
// steady-state latency, a burst of small files, an edit in the middle of a
// big file and a restart. See BENCH.md at the repository root.
//
//	go build -o bin/jetsync ./cmd/jetsync
//	go run ./test/bench -jetsync bin/jetsync -profiles small,mixed -work /tmp/jetsync-bench
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

var allParts = []string{"initial", "twobox", "latency", "bigmod", "restart"}

type config struct {
	jetsync     string
	work        string
	profiles    []string
	twobox      []string
	only        []string
	reps        int
	md          string
	timeout     time.Duration
	keep        bool
	dropCaches  bool
	latN        int
	burstN      int
	steadyProf  string
	commandLine string
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "bench: interrupted")
		} else {
			fmt.Fprintln(os.Stderr, "bench: FAILED:", err)
		}
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var c config
	var profiles, twobox, only string
	fs.StringVar(&c.jetsync, "jetsync", "bin/jetsync", "jetsync binary (build it first: go build -o bin/jetsync ./cmd/jetsync)")
	fs.StringVar(&c.work, "work", filepath.Join(os.TempDir(), "jetsync-bench"), "work directory: cached datasets, run directories, logs")
	fs.StringVar(&profiles, "profiles", "small", "datasets for the initial sync: tiny, small, mixed, large, million (comma-separated)")
	fs.StringVar(&twobox, "twobox", "mixed", "of -profiles, those also measured in the two-box shape (\"all\", or \"\" for none)")
	fs.StringVar(&only, "only", strings.Join(allParts, ","), "parts to run: "+strings.Join(allParts, ",")+" (latency includes the burst)")
	fs.IntVar(&c.reps, "reps", 1, "repetitions of each initial and two-box run; medians are reported")
	fs.StringVar(&c.md, "md", "", "also write the results as a markdown file")
	fs.DurationVar(&c.timeout, "timeout", 15*time.Minute, "limit for any one wait (a sync, an arrival)")
	fs.BoolVar(&c.keep, "keep", false, "keep DST and state directories of finished runs")
	fs.BoolVar(&c.dropCaches, "drop-caches", true, "drop the page cache before each timed one-shot run (Linux, root)")
	fs.IntVar(&c.latN, "latency-files", 200, "files of the latency probe (4 KiB, 200 ms apart)")
	fs.IntVar(&c.burstN, "burst-files", 10000, "files of the burst (4 KiB, written as fast as possible)")
	fs.StringVar(&c.steadyProf, "steady-profile", "small", "dataset under the latency, bigmod and restart parts")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.commandLine = "go run ./test/bench " + strings.Join(args, " ")
	c.profiles = splitList(profiles)
	c.only = splitList(only)
	c.twobox = splitList(twobox)
	if slices.Contains(c.twobox, "all") {
		c.twobox = c.profiles
	}
	for _, p := range append(append(slices.Clone(c.profiles), c.twobox...), c.steadyProf) {
		if _, err := lookupProfile(p); err != nil {
			return c, err
		}
	}
	for _, p := range c.only {
		if !slices.Contains(allParts, p) {
			return c, fmt.Errorf("unknown part %q in -only (have %s)", p, strings.Join(allParts, ","))
		}
	}
	if c.reps < 1 {
		return c, errors.New("-reps must be at least 1")
	}
	var err error
	if c.work, err = filepath.Abs(c.work); err != nil {
		return c, err
	}
	if c.jetsync, err = lookBinary(c.jetsync); err != nil {
		return c, fmt.Errorf("jetsync binary: %w", err)
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// bench is the state shared by the parts.
type bench struct {
	cfg   config
	ctx   context.Context
	procs *procs
	rep   *report
	rsync string // "" when not installed
	runs  int    // run directories made so far
}

func run(ctx context.Context, cfg config) error {
	b := &bench{cfg: cfg, ctx: ctx, procs: newProcs(), rep: &report{w: os.Stdout}}
	defer b.procs.stopAll()
	if err := os.MkdirAll(filepath.Join(cfg.work, "runs"), 0o755); err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	if p, err := exec.LookPath("rsync"); err == nil {
		b.rsync = p
	}
	b.rep.machine = describeMachine(cfg.jetsync, b.rsync, cfg.work)
	b.rep.printMachine()
	if b.rsync == "" {
		b.rep.note("rsync is not on PATH: the rsync comparisons are skipped")
	}
	err := b.runParts()
	if l := loadAverage(); l != "" {
		b.rep.note("load average at the end: %s (1, 5, 15 min; %d CPUs)", l, runtime.NumCPU())
	}
	if cfg.md != "" {
		if merr := b.rep.writeMarkdown(cfg.md, cfg.commandLine); merr != nil && err == nil {
			err = merr
		}
	}
	return err
}

func (b *bench) want(part string) bool { return slices.Contains(b.cfg.only, part) }

func (b *bench) runParts() error {
	for _, p := range b.cfg.profiles {
		if b.want("initial") {
			if err := b.initial(p); err != nil {
				return err
			}
		}
		if b.want("twobox") && slices.Contains(b.cfg.twobox, p) {
			if err := b.twoBox(p); err != nil {
				return err
			}
		}
	}
	if b.want("latency") || b.want("bigmod") || b.want("restart") {
		return b.steadyParts()
	}
	return nil
}

// logf reports progress on stderr; stdout carries the results only.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// dataset returns the cached dataset of profile, generating it if needed.
func (b *bench) dataset(profile string) (string, error) {
	return ensureDataset(filepath.Join(b.cfg.work, "datasets"), profile, b.logf)
}

// runDir makes a fresh, numbered directory for one run.
func (b *bench) runDir(name string) (string, error) {
	b.runs++
	d := filepath.Join(b.cfg.work, "runs", fmt.Sprintf("%s-%d-%03d", name, os.Getpid(), b.runs))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("create run dir: %w", err)
	}
	return d, nil
}

// cleanup removes the bulky parts of a finished run, keeping its logs.
func (b *bench) cleanup(paths ...string) {
	if b.cfg.keep {
		return
	}
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			b.logf("cleanup: %v", err)
		}
	}
}

package harness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// modulePath is the module whose ./cmd/jetsync BuildBinary builds.
const modulePath = "github.com/jetsync/jetsync"

// Bin is the jetsync binary under test. Main sets it; Start and RunCLI
// run it.
var Bin string

// Main is the body of a TestMain: it builds the binary (BuildBinary), sets
// Bin, runs the tests and removes the binary. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
func Main(m *testing.M) int {
	path, cleanup, err := BuildBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer cleanup()
	Bin = path
	return m.Run()
}

var built struct {
	sync.Once
	path    string
	cleanup func()
	err     error
}

// BuildBinary returns the jetsync binary to test, building it at most once
// per test binary: later calls return the same result. If
// JETSYNC_E2E_BIN is set, that binary is used as is (e.g. one built from a
// patched tree while hunting a bug) and cleanup does nothing. Otherwise
// ./cmd/jetsync of the module (found by walking up from the working
// directory to go.mod) is built without the race detector into a new
// temporary directory, which cleanup removes: the test binary may run with
// -race, the daemons it drives should run at production speed.
func BuildBinary() (path string, cleanup func(), err error) {
	built.Do(func() {
		built.cleanup = func() {}
		if bin := os.Getenv("JETSYNC_E2E_BIN"); bin != "" {
			built.path = bin
			return
		}
		root, err := moduleRoot()
		if err != nil {
			built.err = err
			return
		}
		dir, err := os.MkdirTemp("", "jetsync-e2e-bin-")
		if err != nil {
			built.err = err
			return
		}
		out := filepath.Join(dir, "jetsync")
		if err := build(root, out); err != nil {
			os.RemoveAll(dir)
			built.err = err
			return
		}
		built.path = out
		built.cleanup = func() { os.RemoveAll(dir) }
	})
	return built.path, built.cleanup, built.err
}

// build compiles ./cmd/jetsync of the module at root into out, without
// the race detector.
func build(root, out string) error {
	start := time.Now()
	cmd := exec.Command(goTool(), "build", "-o", out, "./cmd/jetsync")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS="+withoutRace(os.Getenv("GOFLAGS")))
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build jetsync: %v\n%s", err, b)
	}
	fmt.Fprintf(os.Stderr, "e2e: built jetsync in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// moduleRoot finds the directory of jetsync's go.mod: up from the working
// directory (a test runs in its package directory), else up from this
// source file.
func moduleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		if root, ok := findModule(dir); ok {
			return root, nil
		}
	}
	return "", fmt.Errorf("no go.mod of module %s above %s", modulePath, strings.Join(starts, " or "))
}

// findModule walks up from dir to the first go.mod and reports whether it
// declares modulePath.
func findModule(dir string) (string, bool) {
	for {
		if mod, err := goModPath(filepath.Join(dir, "go.mod")); err == nil {
			return dir, mod == modulePath
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// goModPath returns the module path declared in a go.mod file.
func goModPath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New(gomod + ": no module line")
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func withoutRace(flags string) string {
	var keep []string
	for _, f := range strings.Fields(flags) {
		if f != "-race" && f != "--race" && f != "-race=true" {
			keep = append(keep, f)
		}
	}
	return strings.Join(keep, " ")
}

// bin returns Bin, failing t if no TestMain set it.
func bin(t testing.TB) string {
	t.Helper()
	if Bin == "" {
		t.Fatal("harness.Bin is not set: call harness.Main from TestMain (or set Bin from BuildBinary)")
	}
	return Bin
}

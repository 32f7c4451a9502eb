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
		if err := build(root, out, "jetsync"); err != nil {
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
// the race detector; what names it in messages.
func build(root, out, what string) error {
	start := time.Now()
	cmd := exec.Command(goTool(), "build", "-o", out, "./cmd/jetsync")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS="+withoutRace(os.Getenv("GOFLAGS")))
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", what, err, b)
	}
	fmt.Fprintf(os.Stderr, "e2e: built %s in %s\n", what, time.Since(start).Round(time.Millisecond))
	return nil
}

// BuildCommit builds ./cmd/jetsync as it was at commit rev of the git
// repository that holds the module (an older release, for an upgrade
// test), the way BuildBinary builds Bin: same toolchain, GOFLAGS without
// -race. The commit's files are exported with `git archive` into a
// temporary directory of t, and the binary is built into another one:
// nothing is written to the repository. It skips t if git, the
// repository or the commit is not at hand (a source tarball, a shallow
// clone), and fails it if the build fails.
func BuildCommit(t testing.TB, rev string) Binary {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skipf("needs git to build jetsync at %s: %v", rev, err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	gitOut := func(args ...string) (string, error) {
		b, err := exec.Command(git, append([]string{"-C", root}, args...)...).Output()
		return strings.TrimSpace(string(b)), err
	}
	if _, err := gitOut("rev-parse", "--verify", "--quiet", rev+"^{commit}"); err != nil {
		t.Skipf("commit %s is not in the git repository at %s (not a git clone, or a shallow one?): %v", rev, root, err)
	}
	// The module may be a subdirectory of the repository.
	prefix, err := gitOut("rev-parse", "--show-prefix")
	if err != nil {
		t.Fatalf("git rev-parse --show-prefix in %s: %v", root, err)
	}
	tree := t.TempDir()
	if err := gitArchive(git, root, rev, tree); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "jetsync-"+rev)
	if err := build(filepath.Join(tree, filepath.FromSlash(prefix)), out, "jetsync at "+rev); err != nil {
		t.Fatal(err)
	}
	return Binary(out)
}

// gitArchive writes the files of commit rev of the repository at root
// into dir: `git archive rev | tar -x -C dir`.
func gitArchive(git, root, rev, dir string) error {
	archive := exec.Command(git, "-C", root, "archive", "--format=tar", rev)
	untar := exec.Command("tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return err
	}
	untar.Stdin = pipe
	var archiveErr, untarErr strings.Builder
	archive.Stderr, untar.Stderr = &archiveErr, &untarErr
	if err := untar.Start(); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	if err := archive.Run(); err != nil {
		_ = untar.Wait()
		return fmt.Errorf("git archive %s: %v\n%s", rev, err, archiveErr.String())
	}
	if err := untar.Wait(); err != nil {
		return fmt.Errorf("untar git archive %s: %v\n%s", rev, err, untarErr.String())
	}
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

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// jetsyncBin is the binary under test, built once by TestMain.
var jetsyncBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// JETSYNC_E2E_BIN runs the suite against a prebuilt binary instead,
	// e.g. one built from a patched tree while hunting a bug.
	if bin := os.Getenv("JETSYNC_E2E_BIN"); bin != "" {
		jetsyncBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "jetsync-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	jetsyncBin = filepath.Join(dir, "jetsync")
	if err := build(jetsyncBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// build compiles ./cmd/jetsync without the race detector: the test binary
// runs with -race, the daemons it drives should run at production speed.
func build(out string) error {
	start := time.Now()
	cmd := exec.Command(goTool(), "build", "-o", out, "github.com/jetsync/jetsync/cmd/jetsync")
	cmd.Env = append(os.Environ(), "GOFLAGS="+withoutRace(os.Getenv("GOFLAGS")))
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build jetsync: %v\n%s", err, b)
	}
	fmt.Fprintf(os.Stderr, "e2e: built jetsync in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
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

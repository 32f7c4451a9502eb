package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden help files in testdata/help")

// TestHelpGolden pins the help of jetsync and of every command: what a
// user reads is reviewed like code (go test ./cmd/jetsync -run
// TestHelpGolden -update rewrites the files after an intended change).
func TestHelpGolden(t *testing.T) {
	cases := map[string][]string{"jetsync": {"--help"}}
	for _, c := range commands {
		cases[c.name] = []string{"help", c.name}
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			helpOut = &out
			defer func() { helpOut = os.Stdout }()
			if code := realMain(args); code != 0 {
				t.Fatalf("jetsync %s: exit %d, want 0", strings.Join(args, " "), code)
			}
			golden := filepath.Join("testdata", "help", name+".txt")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if out.String() != string(want) {
				t.Errorf("jetsync %s differs from %s (run with -update after an intended change):\n%s",
					strings.Join(args, " "), golden, out.String())
			}
			checkHelpLines(t, out.String())
		})
	}
}

// checkHelpLines: flags in --flag form only, and lines that fit a
// terminal except synopses and examples, which are meant to be copied.
func checkHelpLines(t *testing.T, help string) {
	section := ""
	for _, line := range strings.Split(help, "\n") {
		if !strings.HasPrefix(line, " ") {
			section = line
		}
		if strings.HasPrefix(strings.TrimSpace(line), "-") && !strings.HasPrefix(strings.TrimSpace(line), "--") {
			t.Errorf("flag in single-dash form: %q", line)
		}
		if len(line) > helpWidth && section != "Usage:" && section != "Examples:" {
			t.Errorf("line over %d columns: %q", helpWidth, line)
		}
	}
}

func TestHelpEveryFlagListedOnce(t *testing.T) {
	for _, c := range commands {
		if c.name == "help" || c.name == "version" {
			continue
		}
		var out bytes.Buffer
		helpOut = &out
		if err := c.run(t.Context(), []string{"--help"}); err != errHelpShown {
			t.Errorf("%s --help: %v, want the help shown", c.name, err)
		}
		helpOut = os.Stdout
		seen := map[string]bool{}
		for _, l := range strings.Split(out.String(), "\n") {
			if !strings.HasPrefix(l, "  --") {
				continue
			}
			name := strings.Fields(l)[0]
			if seen[name] {
				t.Errorf("%s: %s listed more than once", c.name, name)
			}
			seen[name] = true
		}
	}
}

func TestUnknownFlagNamesItAndPointsToHelp(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{"run --bogus", "unknown flag --bogus (see 'jetsync run --help')"},
		{"status -bogus", "unknown flag --bogus (see 'jetsync status --help')"},
		{"run --data", "flag --data needs a value (see 'jetsync run --help')"},
		{"replica --workers x", `invalid value "x" for flag --workers`},
	} {
		args := strings.Fields(tc.args)
		err := lookup(args[0]).run(t.Context(), args[1:])
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("jetsync %s: %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestExitCodesOfHelpAndVersion(t *testing.T) {
	var out bytes.Buffer
	helpOut = &out
	defer func() { helpOut = os.Stdout }()
	for _, tc := range []struct {
		args string
		code int
	}{{"--help", 0}, {"-h", 0}, {"help", 0}, {"help run", 0}, {"help bogus", 2}, {"bogus", 2}, {"version", 0}, {"--version", 0}} {
		if got := realMain(strings.Fields(tc.args)); got != tc.code {
			t.Errorf("jetsync %s: exit %d, want %d", tc.args, got, tc.code)
		}
	}
	if realMain(nil) != 2 {
		t.Error("jetsync without a command: want exit 2")
	}
}

func TestVersionLine(t *testing.T) {
	v := versionLine()
	if !strings.HasPrefix(v, "jetsync "+releaseVersion()+" (") || !strings.Contains(v, "go1.") {
		t.Errorf("version line %q", v)
	}
}

package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	data := fs.String("data", "", "")
	once := fs.Bool("once", false, "")
	pos, err := parse(fs, []string{"SRC", "--data", "D", "DST", "--once", "--", "-odd"})
	if err != nil || *data != "D" || !*once || !slices.Equal(pos, []string{"SRC", "DST", "-odd"}) {
		t.Fatalf("pos=%q data=%q once=%v err=%v", pos, *data, *once, err)
	}
	var ue usageError
	if _, err := parse(flag.NewFlagSet("x", flag.ContinueOnError), []string{"--nope"}); !errors.As(err, &ue) {
		t.Fatalf("unknown flag: %v, want a usage error", err)
	}
}

func TestCheckRunDirsRefusesNesting(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	for _, dst := range []string{filepath.Join(src, "inner"), src, dir} {
		if _, _, err := checkRunDirs(src, dst); err == nil {
			t.Errorf("accepted SRC %s with DST %s", src, dst)
		}
	}
	if _, _, err := checkRunDirs(src, filepath.Join(dir, "dst")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := checkRunDirs(filepath.Join(dir, "missing"), filepath.Join(dir, "dst")); err == nil {
		t.Fatal("accepted a missing SRC")
	}
}

func TestExitCodes(t *testing.T) {
	if exitCode("verify", errDiffers) != 1 || exitCode("x", usagef("bad")) != 2 || exitCode("x", nil) != 0 {
		t.Fatal("exit codes")
	}
}

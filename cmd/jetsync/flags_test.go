package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
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

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(buildInfo())
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "jetsync_build_info" || mfs[0].GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("build info: %v %v", mfs, err)
	}
	labels := map[string]string{}
	for _, l := range mfs[0].GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["version"] != releaseVersion() || !strings.HasPrefix(labels["goversion"], "go") {
		t.Fatalf("build info labels: %v", labels)
	}
}

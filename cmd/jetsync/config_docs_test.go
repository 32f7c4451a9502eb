package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigExamples: the annotated files in deploy/config use only keys
// and values their command takes (paths and credentials are the reader's
// to make).
func TestConfigExamples(t *testing.T) {
	for _, tc := range []struct {
		file   string
		sc     configSchema
		daemon *flag.FlagSet
		folder func(fs *flag.FlagSet)
	}{
		{"source.toml", sourceSchema(), newSourceCmd().fs, func(fs *flag.FlagSet) { new(sourceFlags).register(fs); new(connFlags).register(fs) }},
		{"replica.toml", replicaSchema(), newReplicaCmd().fs, func(fs *flag.FlagSet) { new(replicaFlags).register(fs); new(connFlags).register(fs) }},
	} {
		c, err := readConfig(filepath.Join("..", "..", "deploy", "config", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.sc.applyTop(tc.daemon, c, nil); err != nil {
			t.Fatal(err)
		}
		if len(c.folders) < 2 {
			t.Errorf("%s shows %d folders, want several", tc.file, len(c.folders))
		}
		for _, sec := range c.folders {
			fs := flag.NewFlagSet("folder", flag.ContinueOnError)
			tc.folder(fs)
			if err := tc.sc.applyFolder(fs, c, sec); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestConfigDocsListEveryKey: docs/CONFIG.md lists every flag of source
// and replica, each being a key of their files.
func TestConfigDocsListEveryKey(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "CONFIG.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fs := range []*flag.FlagSet{newSourceCmd().fs, newReplicaCmd().fs} {
		fs.VisitAll(func(f *flag.Flag) {
			if f.Name != "config" && !strings.Contains(string(doc), "`"+f.Name+"`") {
				t.Errorf("docs/CONFIG.md does not list %s's key %s", fs.Name(), f.Name)
			}
		})
	}
}

package main

import (
	"flag"

	"github.com/jetsync/jetsync/pkg/exclude"
)

// excludeFlags collects --exclude and --exclude-from in command-line
// order, which is the order the patterns are matched in.
type excludeFlags struct{ patterns []string }

func (e *excludeFlags) register(fs *flag.FlagSet) {
	fs.Func("exclude", "leave out paths matching `PATTERN` (gitignore-like: *.tmp, cache/, /build, **/x, !keep; repeatable; see docs/EXCLUDE.md); .zfs at the root is always left out", func(p string) error {
		if err := exclude.Check(p); err != nil {
			return err
		}
		e.patterns = append(e.patterns, p)
		return nil
	})
	fs.Func("exclude-from", "read exclusion patterns from `FILE`, one a line, # comments and blank lines skipped (repeatable)", func(name string) error {
		ps, err := exclude.ReadFile(name)
		if err != nil {
			return err
		}
		e.patterns = append(e.patterns, ps...)
		return nil
	})
}

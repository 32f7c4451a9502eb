package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// waitEqual polls dst until it equals want and returns the moment its
// metadata were first all right; the content check that confirms it is not
// counted. While the copy is under way a poll only lstats the entries
// still missing or wrong, so the poller costs little CPU; once none is left
// it walks and hashes dst (hashes cached by inode, size and mtime) and
// checks for extra entries. Resolution: interval plus one lstat pass.
func waitEqual(ctx context.Context, want tree, dst string, interval, timeout time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cache := newHashCache()
	pending := make([]string, 0, len(want))
	for p := range want {
		pending = append(pending, p)
	}
	slices.Sort(pending) // parents first: a missing parent is found early
	var last []string
	for {
		pending = stillWrong(want, dst, pending)
		if len(pending) == 0 {
			at := time.Now()
			got, err := snapshot(dst, snapOptions{skipTemp: true, cache: cache})
			if err == nil {
				last = diffTrees(want, got)
				if len(last) == 0 {
					return at, nil
				}
				pending = wrongPaths(want, got)
			}
		}
		select {
		case <-ctx.Done():
			if len(last) == 0 && len(pending) > 0 {
				last = prefixAll("missing or wrong ", pending)
			}
			return time.Time{}, fmt.Errorf("wait for DST to equal SRC: %w (limit %s); %w", context.Cause(ctx), timeout, diffError("wait", last))
		case <-time.After(interval):
		}
	}
}

// stillWrong keeps the paths of pending whose metadata in dst do not yet
// match want. It stops at the first few hundred, since a copy in progress
// has many and the rest will be looked at on later polls anyway.
func stillWrong(want tree, dst string, pending []string) []string {
	out := pending[:0]
	for i, p := range pending {
		if len(out) >= 256 {
			return append(out, pending[i:]...)
		}
		full := filepath.Join(dst, filepath.FromSlash(p))
		fi, err := os.Lstat(full)
		if err == nil {
			if g, err := entryOf(full, fi); err == nil && metaEqual(want[p], g) {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// metaEqual compares everything but content.
func metaEqual(w, g entry) bool {
	g.sum = w.sum
	return diffEntry(w, g) == ""
}

// wrongPaths lists the paths of want that got lacks or has wrong.
func wrongPaths(want, got tree) []string {
	var out []string
	for p, w := range want {
		if g, ok := got[p]; !ok || diffEntry(w, g) != "" {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func prefixAll(prefix string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = prefix + s
	}
	return out
}

// Package verify proves that a replica's directory equals the state its
// source has published, as `jetsync verify` does before an old box is
// retired.
//
// Verify reads the latest state record of every path from the folder's
// stream into a temporary on-disk index (so a million paths cost disk, not
// memory), then walks the local tree once in the same order and compares
// the two side by side: type, size, BLAKE3 of the content, permission bits
// including setuid/setgid/sticky, mtime to the nanosecond, and symlink
// targets. Every difference becomes a Diff; a Report with no diffs is the
// proof of convergence.
package verify

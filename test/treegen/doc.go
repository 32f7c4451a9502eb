// Package treegen builds deterministic directory trees for end-to-end tests
// and compares two trees.
//
// Generate writes the same tree for the same Spec every time: names, sizes,
// contents, permission bits and mtimes all derive from Spec.Seed. The tree
// is meant to be hostile to a replicator: deep nesting, an empty directory,
// relative, absolute and dangling symlinks, names with spaces, unicode, a
// leading dash, NATS subject metacharacters, control characters, bytes that
// are not UTF-8 and 255-byte names, setuid, setgid and sticky bits, and
// nanosecond mtimes on files, directories and links.
//
// Compare is deliberately independent of jetsync's packages: it walks both
// trees with the standard library only, so it checks jetsync rather than
// trusting it.
package treegen

// Package index is the source's persistent local index, kept in a bbolt
// file. It remembers, for every path of the tree, the lstat data it was
// published with and the stream sequence of its state record, and for
// every chunk the sequence it was published at. A restarted source whose
// tree did not change therefore republishes nothing, and state that grows
// with the tree lives on disk instead of in memory.
//
// Keys are paths with '/' replaced by 0x00. Because 0x00 sorts before every
// byte a name can contain, bbolt's key order is a depth-first walk of the
// tree with children in byte order, the order os.ReadDir returns them in:
// the direct children of a directory are found by seeking to its prefix and
// skipping each child's descendants, and a whole subtree is one key range.
//
// Sequences make broker data loss recoverable: MarkLost forgets everything
// published after the last sequence the broker still has, ResetAll forgets
// everything, and the source republishes whatever is no longer marked as
// published.
package index

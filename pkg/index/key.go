package index

import "github.com/jetsync/jetsync/pkg/wire"

// sep replaces '/' in keys; it sorts before any byte of a name.
const sep = 0x00

// childPrefix is the key prefix shared by everything below dir; "" is the
// root, whose prefix is empty.
func childPrefix(dir string) []byte {
	if dir == "" {
		return nil
	}
	return append(wire.SortKey(dir), sep)
}

// after returns the smallest key greater than every key that starts with
// k+sep, i.e. the first key past k's subtree.
func after(k []byte) []byte {
	out := make([]byte, len(k)+1)
	copy(out, k)
	out[len(k)] = sep + 1
	return out
}

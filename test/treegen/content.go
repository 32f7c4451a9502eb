package treegen

import (
	"fmt"
	"math/rand/v2"
)

// Random returns n deterministic incompressible bytes.
func Random(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := i; j < min(i+8, n); j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
	return b
}

// Text returns n deterministic text-like bytes: lines of words from a
// small vocabulary with numbers mixed in, roughly as compressible as
// source code or logs.
func Text(n int, seed uint64) []byte {
	words := []string{"the", "source", "replica", "chunk", "record", "stream", "broker", "file",
		"directory", "publish", "apply", "hash", "index", "epoch", "func", "return", "err", "nil",
		"if", "for", "range", "context", "int64", "string", "bytes", "error:", "info:", "debug:",
		"path", "size", "mode", "mtime", "sequence", "ack", "pending", "{", "}", "(", ")", "=", ":="}
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, 0, n+64)
	for len(b) < n {
		for w := 4 + r.IntN(10); w > 0; w-- {
			b = append(b, words[r.IntN(len(words))]...)
			if r.IntN(6) == 0 {
				b = fmt.Appendf(b, "%d", r.IntN(100000))
			}
			b = append(b, ' ')
		}
		b = append(b, '\n')
	}
	return b[:n]
}

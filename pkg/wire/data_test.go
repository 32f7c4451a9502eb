package wire

import (
	"encoding/binary"
	"math/rand/v2"
)

// testRandom returns n incompressible bytes, the same for the same seed.
func testRandom(n int, seed uint64) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// testText returns n bytes of word-like text (compressible, byte entropy
// well under that of random data), the same for the same seed.
func testText(n int, seed uint64) []byte {
	words := []string{"the", "folder", "replica", "source", "broker", "chunk", "of", "and", "a", "changes", "tree", "is"}
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 0, n+16)
	for len(b) < n {
		b = append(append(b, words[r.IntN(len(words))]...), ' ')
	}
	return b[:n]
}

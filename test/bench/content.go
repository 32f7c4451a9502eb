package main

import (
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
)

// contentKind is what a generated file holds.
type contentKind uint8

const (
	textContent   contentKind = iota // words from a fixed vocabulary, zlib ratio about 2.7
	randomContent                    // incompressible bytes
)

func (k contentKind) String() string {
	if k == textContent {
		return "text"
	}
	return "random"
}

// vocabSeed fixes the pseudo vocabulary: changing it changes every dataset.
const vocabSeed = 0x766f636162

// vocabulary is 2,048 pseudo words of 1–12 letters (exponential lengths,
// mean about 5) plus newlines, a few common words and punctuation, so text
// looks like prose or logs and compresses about as well. Words are drawn
// independently, so there is no block-level repetition for dedup to exploit.
var vocabulary = makeVocabulary()

func makeVocabulary() []string {
	r := rand.New(rand.NewPCG(vocabSeed, 1))
	const letters = "abcdefghijklmnopqrstuvwxyz"
	words := make([]string, 0, 2600)
	for range 2048 {
		n := min(12, int(r.ExpFloat64()*5)+1)
		w := make([]byte, n)
		for i := range w {
			w[i] = letters[r.IntN(len(letters))]
		}
		words = append(words, string(w))
	}
	for range 120 {
		words = append(words, "\n")
	}
	for range 40 {
		words = append(words, "the", "of", "and", "to", "a", "in")
	}
	for range 60 {
		words = append(words, ",", ".")
	}
	return words
}

// contentRand is the generator of one file's bytes; seed identifies the file.
func contentRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x636f6e74656e74))
}

// textFiller writes space-separated vocabulary words, carrying a word cut
// at a buffer boundary over to the next buffer.
type textFiller struct {
	r    *rand.Rand
	pend string
}

func (t *textFiller) fill(b []byte) {
	for i := 0; i < len(b); {
		if t.pend == "" {
			t.pend = vocabulary[t.r.IntN(len(vocabulary))] + " "
		}
		n := copy(b[i:], t.pend)
		t.pend = t.pend[n:]
		i += n
	}
}

// fillRandom fills b with bytes from r, eight at a time.
func fillRandom(r *rand.Rand, b []byte) {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	if i < len(b) {
		var last [8]byte
		binary.LittleEndian.PutUint64(last[:], r.Uint64())
		copy(b[i:], last[:])
	}
}

// writeContent streams size bytes of kind, derived from seed, to w through
// buf; files of any size need only len(buf) bytes of memory.
func writeContent(w io.Writer, kind contentKind, size int64, seed uint64, buf []byte) error {
	r := contentRand(seed)
	txt := &textFiller{r: r}
	for left := size; left > 0; {
		b := buf[:min(int64(len(buf)), left)]
		if kind == textContent {
			txt.fill(b)
		} else {
			fillRandom(r, b)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		left -= int64(len(b))
	}
	return nil
}

// logUniform draws an integer in [lo, hi] whose logarithm is uniform.
func logUniform(r *rand.Rand, lo, hi int64) int64 {
	l, h := math.Log(float64(lo)), math.Log(float64(hi))
	return int64(math.Round(math.Exp(l + r.Float64()*(h-l))))
}

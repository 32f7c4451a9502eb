package treegen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Spec describes a tree. The zero value of a count means none.
type Spec struct {
	Seed        uint64
	Files       int   // files of 0–64 KiB (mostly tiny), the special ones and ManyDir's included
	ManyFiles   int   // files of ManyDir, a directory made to be renamed whole
	MediumFiles int   // files of 100 KiB–5 MiB
	BigFileSize int64 // size of BigFile, random bytes; 0: no big file
	Depth       int   // nesting of DeepDir (levels below the root)
	Dirs        int   // ordinary directories the small files are spread over
}

// Paths every generated tree has (BigFile only when Spec.BigFileSize > 0,
// ManyDir only when Spec.ManyFiles > 0). Tests change them by name.
const (
	ManyDir   = "many"
	BigFile   = "big/big.bin"
	EmptyDir  = "empty dir"
	DeepDir   = "deep"
	LinksDir  = "links"
	NamesDir  = "names"
	ModesDir  = "modes"
	ReadmeTxt = "docs/readme.txt"
)

// DefaultSpec is the full-size tree: 5,000 small files, a dozen medium
// ones and a 100 MiB random file, about 170 MiB in all.
func DefaultSpec(seed uint64) Spec {
	return Spec{Seed: seed, Files: 5000, ManyFiles: 1000, MediumFiles: 12,
		BigFileSize: 100 << 20, Depth: 8, Dirs: 80}
}

// SmallSpec is a tree of a few hundred files with every special entry but
// no big file, for tests that need breadth rather than volume.
func SmallSpec(seed uint64) Spec {
	return Spec{Seed: seed, Files: 300, ManyFiles: 40, MediumFiles: 1, Depth: 6, Dirs: 12}
}

// plan is the tree before it is written: every path with its metadata.
// Content is produced while writing, from the file's own seed.
type plan struct {
	dirs  []node // parents before children
	files []node
	links []node
}

type node struct {
	path   string // slash-separated, relative to the root
	mode   fs.FileMode
	mtime  time.Time
	size   int64
	kind   contentKind
	seed   uint64
	target string // symlinks
}

type contentKind int

const (
	textContent contentKind = iota
	randomContent
	mixedContent
)

// Generate writes the tree described by spec under dir, which is created
// if needed and should be empty.
func Generate(dir string, spec Spec) error {
	p := makePlan(spec)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create root: %w", err)
	}
	for _, d := range p.dirs {
		if err := os.Mkdir(filepath.Join(dir, filepath.FromSlash(d.path)), 0o700); err != nil {
			return fmt.Errorf("create dir: %w", err)
		}
	}
	buf := make([]byte, 1<<20)
	for _, f := range p.files {
		if err := writeFile(filepath.Join(dir, filepath.FromSlash(f.path)), f, buf); err != nil {
			return err
		}
	}
	for _, l := range p.links {
		if err := os.Symlink(l.target, filepath.Join(dir, filepath.FromSlash(l.path))); err != nil {
			return fmt.Errorf("create symlink: %w", err)
		}
	}
	return setMetadata(dir, p)
}

// setMetadata fixes modes and mtimes once every entry exists: files and
// links first, then directories, deepest first, since creating an entry
// changes its parent's mtime.
func setMetadata(dir string, p plan) error {
	for _, f := range p.files {
		full := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.Chmod(full, f.mode); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
		if err := os.Chtimes(full, f.mtime, f.mtime); err != nil {
			return fmt.Errorf("set mtime: %w", err)
		}
	}
	for _, l := range p.links {
		if err := SetLinkMtime(filepath.Join(dir, filepath.FromSlash(l.path)), l.mtime); err != nil {
			return err
		}
	}
	dirs := slices.Clone(p.dirs)
	slices.SortStableFunc(dirs, func(a, b node) int { return depth(b.path) - depth(a.path) })
	for _, d := range dirs {
		full := filepath.Join(dir, filepath.FromSlash(d.path))
		if err := os.Chmod(full, d.mode); err != nil {
			return fmt.Errorf("chmod dir: %w", err)
		}
		if err := os.Chtimes(full, d.mtime, d.mtime); err != nil {
			return fmt.Errorf("set dir mtime: %w", err)
		}
	}
	return nil
}

func depth(p string) int { return strings.Count(p, "/") }

func writeFile(path string, n node, buf []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = writeContent(w, n, buf)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", n.path, err)
	}
	return nil
}

// writeContent writes n.size bytes in blocks: text compresses well,
// random does not, mixed alternates 64 KiB of each.
func writeContent(w *bufio.Writer, n node, buf []byte) error {
	rnd := rand.NewChaCha8(chachaSeed(n.seed))
	txt := newTextGen(n.seed)
	block := int64(len(buf))
	if n.kind == mixedContent {
		block = 64 << 10
	}
	for off, i := int64(0), 0; off < n.size; i++ {
		b := buf[:min(block, n.size-off)]
		random := n.kind == randomContent || (n.kind == mixedContent && i%2 == 1)
		if random {
			_, _ = rnd.Read(b)
		} else {
			txt.fill(b)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}

func chachaSeed(s uint64) [32]byte {
	var k [32]byte
	binary.LittleEndian.PutUint64(k[:], s)
	binary.LittleEndian.PutUint64(k[8:], s^0x9e3779b97f4a7c15)
	copy(k[16:], "jetsync-treegen!")
	return k
}

// textGen writes lines of words: compressible but not trivially so.
type textGen struct {
	r    *rand.Rand
	line []byte
	pos  int
}

var words = strings.Fields(`the of and to in is was for on that with as by at from
replica source broker stream chunk manifest folder path mode mtime symlink
directory file rename delete append truncate verify checksum blake3 sha256
jetstream nats consumer sequence epoch index scan watch inotify kqueue zfs
pool dataset snapshot primary burn-in migration lorem ipsum dolor sit amet
consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et
dolore magna aliqua 0 1 2 3 42 1024 65536 2026 -- == => {} [] () ; :`)

func newTextGen(seed uint64) *textGen {
	return &textGen{r: rand.New(rand.NewPCG(seed, 0x7e47))}
}

func (g *textGen) fill(b []byte) {
	for i := 0; i < len(b); {
		if g.pos >= len(g.line) {
			g.nextLine()
		}
		c := copy(b[i:], g.line[g.pos:])
		g.pos += c
		i += c
	}
}

func (g *textGen) nextLine() {
	g.line = g.line[:0]
	g.pos = 0
	n := 3 + g.r.IntN(14)
	for i := range n {
		if i > 0 {
			g.line = append(g.line, ' ')
		}
		g.line = append(g.line, words[g.r.IntN(len(words))]...)
	}
	g.line = append(g.line, '\n')
}

package chaos

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jetsync/jetsync/test/treegen"
)

// Workload pacing and sizes.
const (
	opInterval   = 5 * time.Millisecond // one operation per interval, on average
	maxDirDepth  = 7                    // new directories go no deeper
	maxMoveDepth = 10                   // a moved directory's deepest path stays above this
	burstMin     = 1000                 // files in a burst
	burstMax     = 2000
	bigMin       = 10 << 20 // size of a big file
	bigMax       = 30 << 20
	maxOpErrors  = 20 // the workload gives up after this many failed operations
)

var (
	fileModes = []uint32{0o644, 0o644, 0o644, 0o600, 0o640, 0o664, 0o755, 0o700, 0o444, 0o4755, 0o2750, 0o1644}
	dirModes  = []uint32{0o755, 0o755, 0o700, 0o750, 0o775, 0o2775, 0o1777}
	// nameDecor makes fresh names hostile now and then: spaces (trailing
	// too), unicode, quotes, NATS subject metacharacters. The initial tree
	// (treegen) brings the rest: control characters, bytes that are not
	// UTF-8, 255-byte names, a leading dash.
	nameDecor = []string{"", "", "", "", ".txt", ".dat", " with space", "-ü日", ".a.b", "*", ">", "#%20", "'q\"", " "}
)

// op is one kind of change with its weight in the random choice.
type op struct {
	name   string
	weight int
	run    func(w *workload) (string, error)
}

var ops = []op{
	{"create", 18, (*workload).create},
	{"overwrite", 12, (*workload).overwrite},
	{"append", 8, (*workload).appendFile},
	{"truncate", 5, (*workload).truncate},
	{"rename", 7, (*workload).rename},
	{"rename-dir", 3, (*workload).renameDir},
	{"delete", 8, (*workload).deleteFile},
	{"delete-tree", 2, (*workload).deleteTree},
	{"mkdir", 6, (*workload).mkdir},
	{"rmdir", 3, (*workload).rmdir},
	{"symlink", 5, (*workload).symlink},
	{"retarget", 3, (*workload).retarget},
	{"chmod", 6, (*workload).chmod},
	{"touch", 6, (*workload).touch},
	{"replace-type", 2, (*workload).replaceType},
}

// pauseOdds is the chance (1 in pauseOdds) that the workload pauses
// after an operation; a pause lasts 200-800 ms.
const pauseOdds = 400

var opWeights = func() int {
	n := 0
	for _, o := range ops {
		n += o.weight
	}
	return n
}()

// workload changes the source tree at random. Every choice and every byte
// written comes from r, seeded with the seed; only the timing against the
// daemons varies between runs.
type workload struct {
	r       *rand.Rand
	root    string
	m       *model
	j       *journal
	fresh   int
	budget  int   // operations to run
	special []int // op numbers at which a burst ("b") or big file ("B") happens, sorted
	kinds   []byte
	counts  map[string]int
	ops     int
	errs    []string
	skip    int // operation slots a pause takes
	buf     []byte
}

func newWorkload(seed uint64, root string, m *model, j *journal, duration time.Duration) *workload {
	w := &workload{r: rand.New(rand.NewPCG(seed, 0x776f726b6c6f6164)), root: root, m: m, j: j,
		budget: max(int(duration/opInterval), 1), counts: map[string]int{}, buf: make([]byte, 1<<20)}
	bursts := 1 + w.r.IntN(2)
	if duration > 30*time.Second {
		bursts = int(duration / (15 * time.Second))
	}
	bigs := 1 + w.r.IntN(2)
	type at struct {
		n int
		k byte
	}
	var sched []at
	for range bursts {
		sched = append(sched, at{w.r.IntN(w.budget), 'b'})
	}
	for range bigs {
		sched = append(sched, at{w.r.IntN(w.budget), 'B'})
	}
	slices.SortStableFunc(sched, func(a, b at) int { return a.n - b.n })
	for _, s := range sched {
		w.special = append(w.special, s.n)
		w.kinds = append(w.kinds, s.k)
	}
	return w
}

// run performs the budget of operations, paced over about the duration,
// until done or ctx ends. It gives up early if the machine is so slow
// that the operations take more than twice their time.
func (w *workload) run(ctx context.Context, duration time.Duration) {
	start := time.Now()
	hardStop := start.Add(2*duration + 10*time.Second)
	for i := 0; i < w.budget && len(w.errs) < maxOpErrors; i++ {
		if ctx.Err() != nil {
			return
		}
		w.specials(i)
		if w.r.IntN(pauseOdds) == 0 {
			w.do("pause", (*workload).pause)
		}
		w.do(w.choose())
		if time.Now().After(hardStop) {
			w.j.add("workload: slow machine, stopping after %d of %d ops", i+1, w.budget)
			return
		}
		i += w.skip // a pause takes the time of the operations it replaces
		w.skip = 0
		if d := time.Until(start.Add(time.Duration(i+1) * opInterval)); d > 0 {
			time.Sleep(d)
		}
	}
	if ctx.Err() == nil && len(w.errs) < maxOpErrors {
		w.specials(w.budget) // any a final pause skipped over
	}
}

// specials runs the bursts and big files due at operation i.
func (w *workload) specials(i int) {
	for len(w.special) > 0 && w.special[0] <= i {
		k := w.kinds[0]
		w.special, w.kinds = w.special[1:], w.kinds[1:]
		if k == 'b' {
			w.do("burst", (*workload).burst)
		} else {
			w.do("big-file", (*workload).bigFile)
		}
	}
}

func (w *workload) choose() (string, func(*workload) (string, error)) {
	n := w.r.IntN(opWeights)
	for _, o := range ops {
		if n < o.weight {
			return o.name, o.run
		}
		n -= o.weight
	}
	panic("unreachable")
}

func (w *workload) do(name string, f func(*workload) (string, error)) {
	w.ops++
	desc, err := f(w)
	if desc == "" && err == nil { // nothing to act on: create instead
		name = "create"
		desc, err = w.create()
	}
	w.counts[name]++
	if err != nil {
		msg := fmt.Sprintf("op %d %s %s: %v", w.ops, name, desc, err)
		w.errs = append(w.errs, msg)
		w.j.add("%s", msg)
		return
	}
	w.j.add("op %d %s %s", w.ops, name, desc)
}

func (w *workload) abs(rel string) string { return filepath.Join(w.root, filepath.FromSlash(rel)) }

// freshName returns a name never used before in this run.
func (w *workload) freshName(prefix string) string {
	w.fresh++
	return fmt.Sprintf("%s%05d%s", prefix, w.fresh, nameDecor[w.r.IntN(len(nameDecor))])
}

// someDir returns the root ("") or a directory, not deeper than maxDepth.
func (w *workload) someDir(maxDepth int) string {
	d := w.m.dirs()
	if d.len() == 0 || w.r.IntN(8) == 0 {
		return ""
	}
	p := d.pick(w.r)
	for depthOf(p) > maxDepth {
		p = parentOf(p)
	}
	return p
}

// someNonDir picks a file or a symlink, "" if there is none.
func (w *workload) someNonDir() string {
	f, l := w.m.files(), w.m.links()
	switch n := f.len() + l.len(); {
	case n == 0:
		return ""
	case w.r.IntN(n) < f.len():
		return f.pick(w.r)
	default:
		return l.pick(w.r)
	}
}

func (w *workload) smallSize() int {
	switch x := w.r.IntN(100); {
	case x < 5:
		return 0
	case x < 50:
		return 1 + w.r.IntN(1<<10)
	case x < 85:
		return 1 + w.r.IntN(16<<10)
	default:
		return 1 + w.r.IntN(256<<10)
	}
}

// content returns n bytes from the generator: random (incompressible) or
// repetitive text (compressible), so both chunk codecs are exercised. The
// slice is reused by the next call.
func (w *workload) content(n int) []byte {
	if cap(w.buf) < n {
		w.buf = make([]byte, n)
	}
	b := w.buf[:n]
	if w.r.IntN(2) == 0 {
		var i int
		for ; i+8 <= n; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], w.r.Uint64())
		}
		for ; i < n; i++ {
			b[i] = byte(w.r.Uint32())
		}
		return b
	}
	line := fmt.Sprintf("line %d of seed-derived text, chaos keeps jetsync honest\n", w.r.Uint32())
	for i := 0; i < n; i += len(line) {
		copy(b[i:], line)
	}
	return b
}

func (w *workload) fileMode() uint32 { return fileModes[w.r.IntN(len(fileModes))] }
func (w *workload) dirMode() uint32  { return dirModes[w.r.IntN(len(dirModes))] }

func (w *workload) writeNew(rel string, data []byte, mode uint32) error {
	f, err := os.OpenFile(w.abs(rel), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(w.abs(rel), treegen.UnixMode(mode))
	}
	return err
}

func (w *workload) create() (string, error) {
	p := joinRel(w.someDir(maxDirDepth), w.freshName("f"))
	data, mode := w.content(w.smallSize()), w.fileMode()
	w.m.add(p, kFile)
	return fmt.Sprintf("%q %d B %04o", p, len(data), mode), w.writeNew(p, data, mode)
}

func (w *workload) overwrite() (string, error) {
	if w.m.files().len() == 0 {
		return "", nil
	}
	p := w.m.files().pick(w.r)
	fi, err := os.Stat(w.abs(p))
	if err != nil {
		return fmt.Sprintf("%q", p), err
	}
	if w.r.IntN(2) == 0 {
		data := w.content(w.smallSize())
		return fmt.Sprintf("%q whole, %d B", p, len(data)), os.WriteFile(w.abs(p), data, 0)
	}
	off := w.r.Int64N(fi.Size() + 1)
	data := w.content(1 + w.r.IntN(64<<10))
	f, err := os.OpenFile(w.abs(p), os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteAt(data, off)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return fmt.Sprintf("%q in place at %d, %d B", p, off, len(data)), err
}

func (w *workload) appendFile() (string, error) {
	if w.m.files().len() == 0 {
		return "", nil
	}
	p := w.m.files().pick(w.r)
	data := w.content(1 + w.r.IntN(8<<10))
	f, err := os.OpenFile(w.abs(p), os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return fmt.Sprintf("%q +%d B", p, len(data)), err
}

func (w *workload) truncate() (string, error) {
	if w.m.files().len() == 0 {
		return "", nil
	}
	p := w.m.files().pick(w.r)
	fi, err := os.Stat(w.abs(p))
	if err != nil {
		return fmt.Sprintf("%q", p), err
	}
	size := w.r.Int64N(fi.Size() + 1)
	if w.r.IntN(4) == 0 {
		size = fi.Size() + 1 + w.r.Int64N(8<<10) // a sparse extension
	}
	return fmt.Sprintf("%q %d -> %d", p, fi.Size(), size), os.Truncate(w.abs(p), size)
}

// rename moves a file or symlink to a fresh name, or over another file.
func (w *workload) rename() (string, error) {
	p := w.someNonDir()
	if p == "" {
		return "", nil
	}
	to := joinRel(w.someDir(maxDirDepth), w.freshName("r"))
	if w.r.IntN(4) == 0 && w.m.files().len() > 1 {
		if q := w.m.files().pick(w.r); q != p {
			to = q
		}
	}
	k := w.m.kinds[p]
	w.m.remove(p)
	w.m.remove(to)
	w.m.add(to, k)
	return fmt.Sprintf("%q -> %q", p, to), os.Rename(w.abs(p), w.abs(to))
}

func (w *workload) renameDir() (string, error) {
	if w.m.dirs().len() == 0 {
		return "", nil
	}
	p := w.m.dirs().pick(w.r)
	deepest := 0
	for _, q := range w.m.below(p) {
		deepest = max(deepest, depthOf(q)-depthOf(p))
	}
	parent := w.someDir(maxDirDepth)
	if parent == p || strings.HasPrefix(parent, p+"/") || depthOf(parent)+1+deepest > maxMoveDepth {
		parent = ""
	}
	to := joinRel(parent, w.freshName("D"))
	w.m.moveTree(p, to)
	return fmt.Sprintf("%q -> %q (%d below)", p, to, len(w.m.below(to))), os.Rename(w.abs(p), w.abs(to))
}

func (w *workload) deleteFile() (string, error) {
	p := w.someNonDir()
	if p == "" {
		return "", nil
	}
	w.m.remove(p)
	return fmt.Sprintf("%q", p), os.Remove(w.abs(p))
}

// smallTree picks a directory, preferring small subtrees (the least
// populated of three draws) so that deletions do not empty the tree too
// fast; "" if there is none.
func (w *workload) smallTree() (string, int) {
	best, bestN := "", -1
	for range 3 {
		if w.m.dirs().len() == 0 {
			break
		}
		p := w.m.dirs().pick(w.r)
		if n := len(w.m.below(p)); bestN < 0 || n < bestN {
			best, bestN = p, n
		}
	}
	return best, bestN
}

func (w *workload) deleteTree() (string, error) {
	p, n := w.smallTree()
	if p == "" {
		return "", nil
	}
	w.m.removeTree(p)
	return fmt.Sprintf("%q (%d below)", p, n), os.RemoveAll(w.abs(p))
}

func (w *workload) mkdir() (string, error) {
	p := joinRel(w.someDir(maxDirDepth-1), w.freshName("d"))
	mode := w.dirMode()
	w.m.add(p, kDir)
	err := os.Mkdir(w.abs(p), 0o700)
	if err == nil {
		err = os.Chmod(w.abs(p), treegen.UnixMode(mode))
	}
	return fmt.Sprintf("%q %04o", p, mode), err
}

func (w *workload) rmdir() (string, error) {
	p := w.m.emptyDir(w.r)
	if p == "" {
		return "", nil
	}
	w.m.remove(p)
	return fmt.Sprintf("%q", p), os.Remove(w.abs(p))
}

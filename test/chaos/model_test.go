package chaos

import (
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
)

// kind is the type of a path in the model.
type kind int

const (
	kFile kind = iota
	kDir
	kLink
)

// pathSet is a set of paths with O(1) add, remove and uniform random pick.
// Its order depends only on the sequence of calls, never on map iteration,
// so picks are reproducible from the seed.
type pathSet struct {
	items []string
	pos   map[string]int
}

func newPathSet() *pathSet { return &pathSet{pos: map[string]int{}} }

func (s *pathSet) add(p string) {
	if _, ok := s.pos[p]; ok {
		return
	}
	s.pos[p] = len(s.items)
	s.items = append(s.items, p)
}

func (s *pathSet) remove(p string) {
	i, ok := s.pos[p]
	if !ok {
		return
	}
	last := len(s.items) - 1
	s.items[i] = s.items[last]
	s.pos[s.items[i]] = i
	s.items = s.items[:last]
	delete(s.pos, p)
}

func (s *pathSet) len() int { return len(s.items) }

func (s *pathSet) pick(r *rand.Rand) string { return s.items[r.IntN(len(s.items))] }

// model is what the workload knows of the source tree: it is the tree's
// only writer, so the model stays exact without listing the tree. Paths
// are relative and slash-separated; the root ("") is a directory that is
// never in dirs.
type model struct {
	kinds    map[string]kind
	sets     [3]*pathSet // by kind
	children map[string]int
}

func newModel() *model {
	return &model{kinds: map[string]kind{}, sets: [3]*pathSet{newPathSet(), newPathSet(), newPathSet()},
		children: map[string]int{}}
}

// loadModel reads the tree at root into a model, in WalkDir's (sorted)
// order, leaving out the paths skip says to.
func loadModel(root string, skip func(rel string) bool) (*model, error) {
	m := newModel()
	err := filepath.WalkDir(root, func(full string, d fs.DirEntry, err error) error {
		if err != nil || full == root {
			return err
		}
		rel, err := filepath.Rel(root, full)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			m.add(rel, kDir)
		case t&fs.ModeSymlink != 0:
			m.add(rel, kLink)
		case t.IsRegular():
			m.add(rel, kFile)
		}
		return nil
	})
	return m, err
}

func (m *model) files() *pathSet { return m.sets[kFile] }
func (m *model) dirs() *pathSet  { return m.sets[kDir] }
func (m *model) links() *pathSet { return m.sets[kLink] }

func (m *model) size() int { return len(m.kinds) }

func (m *model) add(p string, k kind) {
	m.kinds[p] = k
	m.sets[k].add(p)
	m.children[parentOf(p)]++
}

func (m *model) remove(p string) {
	k, ok := m.kinds[p]
	if !ok {
		return
	}
	delete(m.kinds, p)
	m.sets[k].remove(p)
	m.children[parentOf(p)]--
	if k == kDir {
		delete(m.children, p)
	}
}

// below lists every path under dir (not dir itself), sorted, so that what
// is done with them is reproducible.
func (m *model) below(dir string) []string {
	var out []string
	prefix := dir + "/"
	for p := range m.kinds {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// removeTree forgets dir and everything below it.
func (m *model) removeTree(dir string) {
	for _, p := range m.below(dir) {
		m.remove(p)
	}
	m.remove(dir)
}

// moveTree renames dir (a directory) to to, with everything below it.
func (m *model) moveTree(dir, to string) {
	below := m.below(dir)
	kinds := make([]kind, len(below))
	for i, p := range below {
		kinds[i] = m.kinds[p]
	}
	m.removeTree(dir)
	m.add(to, kDir)
	for i, p := range below {
		m.add(to+p[len(dir):], kinds[i])
	}
}

// emptyDir returns a directory with no children, starting the search at a
// random one, or "" if there is none.
func (m *model) emptyDir(r *rand.Rand) string {
	d := m.dirs()
	if d.len() == 0 {
		return ""
	}
	start := r.IntN(d.len())
	for i := range d.len() {
		p := d.items[(start+i)%d.len()]
		if m.children[p] == 0 {
			return p
		}
	}
	return ""
}

func parentOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

func depthOf(p string) int {
	if p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

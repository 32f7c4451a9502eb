package source

import (
	"bytes"
	"io"
	"os"
	"sync"
	"time"

	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Bounds of the pinned versions: how many, and how many bytes of them in
// memory. Past either, the oldest go; a replica that asks for an evicted
// version's content is answered from the path, or "gone".
var (
	maxPins   = 64
	pinMemMax = int64(64 << 20)
)

// pin holds the content of one published version of a file whose path
// may not hold it when a replica asks: an open file (a version renamed
// over since, a clone, a file that grows) or the version's bytes.
type pin struct {
	r    io.ReaderAt
	f    *os.File // nil for bytes
	mem  int64    // bytes held in memory
	hash wire.Hash
	stat index.Stat
	at   time.Time
	refs int  // readers of the content service using it
	gone bool // replaced or evicted: closed once unused
}

func filePin(f *os.File) *pin { return &pin{r: f, f: f} }

func bytesPin(b []byte) *pin { return &pin{r: bytes.NewReader(b), mem: int64(len(b))} }

func (p *pin) release() {
	if p.f != nil {
		p.f.Close()
	}
}

// pinnedVersions are the pins of the latest published version of the
// paths that have one. The content service reads a version's chunks from
// its pin rather than from the path.
type pinnedVersions struct {
	mu  sync.Mutex
	m   map[string]*pin
	mem int64
}

// put pins e's version of its path with p, in place of the path's
// previous pin; nil only drops that.
func (v *pinnedVersions) put(e *index.Entry, p *pin) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.dropLocked(e.Path)
	if p == nil {
		return
	}
	p.hash, p.stat, p.at = e.Hash, e.Stat, time.Now()
	if v.m == nil {
		v.m = make(map[string]*pin)
	}
	v.m[e.Path] = p
	v.mem += p.mem
	for len(v.m) > maxPins || v.mem > pinMemMax {
		v.dropLocked(v.oldestLocked())
	}
}

// drop unpins path.
func (v *pinnedVersions) drop(path string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.dropLocked(path)
}

func (v *pinnedVersions) dropLocked(path string) {
	p, ok := v.m[path]
	if !ok {
		return
	}
	delete(v.m, path)
	v.mem -= p.mem
	p.gone = true
	if p.refs == 0 {
		p.release()
	}
}

func (v *pinnedVersions) oldestLocked() string {
	var oldest string
	var at time.Time
	for path, p := range v.m {
		if oldest == "" || p.at.Before(at) {
			oldest, at = path, p.at
		}
	}
	return oldest
}

// get returns the pin of e's version of its path, nil if there is none;
// the caller gives it back with done.
func (v *pinnedVersions) get(e *index.Entry) *pin {
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.m[e.Path]
	if p == nil || p.hash != e.Hash || p.stat != e.Stat {
		return nil
	}
	p.refs++
	return p
}

func (v *pinnedVersions) done(p *pin) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p.refs--
	if p.gone && p.refs == 0 {
		p.release()
	}
}

// closeAll unpins everything, when the source stops.
func (v *pinnedVersions) closeAll() {
	v.mu.Lock()
	paths := make([]string, 0, len(v.m))
	for path := range v.m {
		paths = append(paths, path)
	}
	v.mu.Unlock()
	for _, path := range paths {
		v.drop(path)
	}
}

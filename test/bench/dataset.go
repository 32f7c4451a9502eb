package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

const (
	kiB = int64(1) << 10
	miB = int64(1) << 20
	giB = int64(1) << 30
)

// genVersion is part of every stamp: bump it when the generator changes so
// cached datasets are rebuilt.
const genVersion = 1

// profile is the shape of one dataset (the reference harness's profiles).
type profile struct {
	Name      string
	Seed      uint64
	Files     int    // small files, sizes log-uniform in [MinSize, MaxSize]
	Fanout    [3]int // directories per level of the 3-level tree
	MinSize   int64
	MaxSize   int64
	Big       []bigFile // under big/
	Symlinks  int       // relative links to small files
	EmptyDirs int
}

type bigFile struct {
	Size int64
	Kind contentKind
}

var profiles = map[string]profile{
	"tiny": {Name: "tiny", Seed: 11, Files: 300, Fanout: [3]int{3, 3, 2}, MinSize: kiB, MaxSize: 64 * kiB,
		Big: []bigFile{{4 * miB, textContent}, {4 * miB, randomContent}}, Symlinks: 5, EmptyDirs: 2},
	"small": {Name: "small", Seed: 1, Files: 5000, Fanout: [3]int{8, 5, 4}, MinSize: kiB, MaxSize: 64 * kiB,
		Symlinks: 20, EmptyDirs: 3},
	"mixed": {Name: "mixed", Seed: 2, Files: 20000, Fanout: [3]int{16, 6, 4}, MinSize: kiB, MaxSize: 64 * kiB,
		Big: []bigFile{{256 * miB, textContent}, {256 * miB, textContent},
			{256 * miB, randomContent}, {256 * miB, randomContent}}, Symlinks: 40, EmptyDirs: 5},
	"large": {Name: "large", Seed: 3, Fanout: [3]int{1, 0, 0},
		Big: []bigFile{{giB, textContent}, {giB, randomContent}}},
	// million is the tree size where memory, not time, is the question
	// (about 5 GB of disk blocks and 1,001,111 inodes; minutes to build).
	"million": {Name: "million", Seed: 4, Files: 1000000, Fanout: [3]int{10, 10, 10}, MinSize: 64, MaxSize: kiB},
}

func lookupProfile(name string) (profile, error) {
	p, ok := profiles[name]
	if !ok {
		names := make([]string, 0, len(profiles))
		for n := range profiles {
			names = append(names, n)
		}
		sort.Strings(names)
		return profile{}, fmt.Errorf("unknown profile %q (have %s)", name, strings.Join(names, ", "))
	}
	return p, nil
}

// treePlan is a dataset before it is written: every choice already drawn.
type treePlan struct {
	dirs  []string // slash-separated, relative; "" is the root
	files []planFile
	links []planLink
}

type planFile struct {
	rel   string
	size  int64
	kind  contentKind
	mode  fs.FileMode
	mtime time.Time
	seed  uint64
}

type planLink struct {
	rel, target string
	mtime       time.Time
}

// baseMtime: every generated mtime lies in the year after it.
var baseMtime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func randomMtime(r *rand.Rand) time.Time {
	return baseMtime.Add(time.Duration(r.Int64N(365*24*3600)) * time.Second).Add(time.Duration(r.Int64N(1e9)))
}

// makePlan draws the layout from one PCG stream seeded by the profile.
func makePlan(p profile) treePlan {
	r := rand.New(rand.NewPCG(p.Seed, 0x6c61796f7574))
	var pl treePlan
	pl.dirs = treeDirs(p.Fanout)
	weights := make([]int, len(pl.dirs))
	for i, d := range pl.dirs {
		weights[i] = 1
		if d != "" {
			weights[i] = (strings.Count(d, "/") + 2) * (strings.Count(d, "/") + 2)
		}
	}
	pick := weightedPicker(weights)
	for i := range p.Files {
		d := pl.dirs[pick(r)]
		f := planFile{size: logUniform(r, p.MinSize, p.MaxSize), kind: contentKind(r.IntN(2)), mode: 0o644}
		exts := []string{"bin", "dat", "gz", "jpg"}
		if f.kind == textContent {
			exts = []string{"txt", "log", "csv", "json", "md"}
		}
		f.rel = path.Join(d, fmt.Sprintf("f%05d.%s", i, exts[r.IntN(len(exts))]))
		switch x := r.Float64(); {
		case x < 0.05:
			f.mode = 0o755
		case x < 0.07:
			f.mode = 0o600
		}
		f.mtime = randomMtime(r)
		f.seed = p.Seed<<32 | uint64(i)
		pl.files = append(pl.files, f)
	}
	if len(p.Big) > 0 {
		pl.dirs = append(pl.dirs, "big")
	}
	for i, b := range p.Big {
		pl.files = append(pl.files, planFile{rel: fmt.Sprintf("big/big%d-%s-%dM.bin", i, b.Kind, b.Size/miB),
			size: b.Size, kind: b.Kind, mode: 0o644, mtime: randomMtime(r), seed: p.Seed<<32 | 1<<31 | uint64(i)})
	}
	for i := range p.Symlinks {
		target := pl.files[r.IntN(p.Files)].rel
		d := pl.dirs[r.IntN(len(pl.dirs))]
		rel, _ := filepath.Rel(filepath.FromSlash("/"+d), filepath.FromSlash("/"+target))
		pl.links = append(pl.links, planLink{rel: path.Join(d, fmt.Sprintf("link%03d", i)),
			target: filepath.ToSlash(rel), mtime: randomMtime(r)})
	}
	parents := slices.Clip(pl.dirs) // an empty dir never goes inside another
	for i := range p.EmptyDirs {
		pl.dirs = append(pl.dirs, path.Join(parents[r.IntN(len(parents))], fmt.Sprintf("empty%02d", i)))
	}
	return pl
}

// treeDirs lists the root and the 3-level tree d00/s00/t00.
func treeDirs(fan [3]int) []string {
	dirs := []string{""}
	var l1, l2 []string
	for i := range fan[0] {
		l1 = append(l1, fmt.Sprintf("d%02d", i))
	}
	for _, a := range l1 {
		for j := range fan[1] {
			l2 = append(l2, fmt.Sprintf("%s/s%02d", a, j))
		}
	}
	dirs = append(append(dirs, l1...), l2...)
	for _, b := range l2 {
		for k := range fan[2] {
			dirs = append(dirs, fmt.Sprintf("%s/t%02d", b, k))
		}
	}
	return dirs
}

// weightedPicker returns a function drawing an index with the given weights.
func weightedPicker(w []int) func(*rand.Rand) int {
	cum := make([]int, len(w))
	total := 0
	for i, x := range w {
		total += x
		cum[i] = total
	}
	return func(r *rand.Rand) int {
		x := r.IntN(total)
		return sort.Search(len(cum), func(i int) bool { return cum[i] > x })
	}
}

// writeTree creates the planned tree under out, which must not exist.
func writeTree(pl treePlan, out string) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return 0, fmt.Errorf("create dataset parent: %w", err)
	}
	for _, d := range pl.dirs {
		if err := os.Mkdir(filepath.Join(out, filepath.FromSlash(d)), 0o755); err != nil {
			return 0, fmt.Errorf("create dir: %w", err)
		}
	}
	buf := make([]byte, miB)
	var total int64
	for _, f := range pl.files {
		if err := writePlanFile(filepath.Join(out, filepath.FromSlash(f.rel)), f, buf); err != nil {
			return 0, err
		}
		total += f.size
	}
	for _, l := range pl.links {
		p := filepath.Join(out, filepath.FromSlash(l.rel))
		if err := os.Symlink(l.target, p); err != nil {
			return 0, fmt.Errorf("create symlink: %w", err)
		}
		if err := setLinkMtime(p, l.mtime); err != nil {
			return 0, err
		}
	}
	return total, fixDirs(pl.dirs, out)
}

func writePlanFile(p string, f planFile, buf []byte) error {
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	err = writeContent(fh, f.kind, f.size, f.seed, buf)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(p, f.mode)
	}
	if err == nil {
		err = os.Chtimes(p, f.mtime, f.mtime)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// fixDirs sets directory modes and mtimes, deepest first, once nothing
// more is created inside them. Each directory's choice is seeded by its
// name, so it does not depend on the order.
func fixDirs(dirs []string, out string) error {
	dirs = slices.Clone(dirs)
	slices.SortStableFunc(dirs, func(a, b string) int { return dirDepth(b) - dirDepth(a) })
	for _, d := range dirs {
		r := rand.New(rand.NewPCG(stringSeed(d), 0x646972))
		mode := fs.FileMode(0o755)
		if r.Float64() < 0.1 {
			mode = 0o750
		}
		p := filepath.Join(out, filepath.FromSlash(d))
		mt := randomMtime(r)
		if err := os.Chmod(p, mode); err != nil {
			return fmt.Errorf("chmod dir: %w", err)
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			return fmt.Errorf("set dir mtime: %w", err)
		}
	}
	return nil
}

func dirDepth(d string) int {
	if d == "" {
		return -1
	}
	return strings.Count(d, "/")
}

// stringSeed is FNV-1a of s.
func stringSeed(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// stampOf identifies the generator and profile a cached dataset came from.
func stampOf(p profile) []byte {
	return fmt.Appendf(nil, "jetsync-bench dataset v%d\n%+v\n", genVersion, p)
}

// ensureDataset returns dir/<name>, generating it unless a matching stamp
// says it is already there. A tree is built beside its final place and
// renamed when complete, so an interrupted build is never reused.
func ensureDataset(dir, name string, logf func(string, ...any)) (string, error) {
	p, err := lookupProfile(name)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	stamp := out + ".stamp"
	want := stampOf(p)
	if got, err := os.ReadFile(stamp); err == nil && bytes.Equal(got, want) {
		if fi, err := os.Stat(out); err == nil && fi.IsDir() {
			return out, nil
		}
	}
	logf("generating dataset %s in %s", name, out)
	start := time.Now()
	for _, stale := range []string{stamp, out} {
		if err := os.RemoveAll(stale); err != nil {
			return "", fmt.Errorf("remove stale dataset: %w", err)
		}
	}
	tmp := fmt.Sprintf("%s.tmp-%d", out, os.Getpid())
	total, err := writeTree(makePlan(p), tmp)
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("generate dataset %s: %w", name, err)
	}
	if err := os.WriteFile(stamp, want, 0o644); err != nil {
		return "", fmt.Errorf("write stamp: %w", err)
	}
	logf("dataset %s: %.1f MiB in %s", name, float64(total)/float64(miB), time.Since(start).Round(time.Millisecond))
	return out, nil
}

package treegen

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path"
	"strings"
	"time"
)

// planner draws every random choice of a tree from one PCG stream, so the
// plan depends on the seed only.
type planner struct {
	spec Spec
	r    *rand.Rand
	p    plan
	seq  uint64
}

func makePlan(spec Spec) plan {
	pl := &planner{spec: spec, r: rand.New(rand.NewPCG(spec.Seed, 0x6a657473796e63))}
	pl.fixedDirs()
	ordinary := pl.ordinaryDirs()
	pl.specialFiles()
	pl.manyFiles()
	pl.smallFiles(ordinary)
	pl.mediumFiles(ordinary)
	if spec.BigFileSize > 0 {
		pl.file(BigFile, spec.BigFileSize, randomContent, 0o644)
	}
	pl.links()
	return pl.p
}

// Long names: 255 bytes is NAME_MAX on Linux, FreeBSD and ZFS.
var (
	LongASCIIName   = strings.Repeat("n", 251) + ".txt"
	LongUnicodeName = strings.Repeat("日", 85) // 3 bytes each
	LongDirName     = strings.Repeat("d", 255)
)

// specialNames are the hostile names of NamesDir.
var specialNames = []string{
	"with space.txt", " leading space", "trailing space ", "ünïcödé ñ 日本.txt",
	"-rf", "--help", "a.b.c", "star*", "gt>", `back\slash`, `quote'"`, "#hash%20",
	"emoji 🚀.txt", "nfd-e\u0301.txt", "nfc-\u00e9.txt", LongASCIIName, LongUnicodeName,
	// Legal on Linux, FreeBSD and ZFS, and common on old NAS shares:
	// Latin-1 bytes that are not UTF-8, and control characters.
	"latin1-caf\xe9.txt", "new\nline", "tab\tname",
}

func (pl *planner) fixedDirs() {
	for _, d := range []string{"docs", EmptyDir, LinksDir, NamesDir, NamesDir + "/dir with spaces",
		NamesDir + "/日本語 ディレクトリ", NamesDir + "/" + LongDirName, ModesDir} {
		pl.dir(d, 0o755)
	}
	pl.dir(ModesDir+"/sticky", UnixMode(0o1777))
	pl.dir(ModesDir+"/setgid-dir", UnixMode(0o2755))
	pl.dir(ModesDir+"/setgid-dir/child", 0o755)
	pl.dir(ModesDir+"/private-dir", 0o700)
	if pl.spec.BigFileSize > 0 {
		pl.dir(path.Dir(BigFile), 0o755)
	}
	if pl.spec.ManyFiles > 0 {
		pl.dir(ManyDir, 0o755)
	}
	d := DeepDir
	pl.dir(d, 0o755)
	for i := 2; i <= max(pl.spec.Depth, 1); i++ {
		d += fmt.Sprintf("/level %d", i)
		pl.dir(d, pl.dirMode())
	}
}

// ordinaryDirs makes spec.Dirs directories, up to four levels deep, and
// returns them (with "docs") as homes for the generated files.
func (pl *planner) ordinaryDirs() []string {
	homes := []string{"docs"}
	for i := range pl.spec.Dirs {
		parent := ""
		if i > 8 && pl.r.IntN(3) > 0 {
			parent = homes[1+pl.r.IntN(len(homes)-1)]
		}
		if depth(parent) >= 3 {
			parent = ""
		}
		name := fmt.Sprintf("dir-%03d", i)
		if i%7 == 3 {
			name = fmt.Sprintf("Dir %03d ñ", i)
		}
		p := path.Join(parent, name)
		pl.dir(p, pl.dirMode())
		homes = append(homes, p)
	}
	return homes
}

func (pl *planner) specialFiles() {
	pl.file(ReadmeTxt, 2048, textContent, 0o644)
	pl.file("docs/empty.txt", 0, textContent, 0o644)
	for _, n := range specialNames {
		pl.file(NamesDir+"/"+n, pl.smallSize(), pl.kind(), 0o644)
	}
	pl.file(NamesDir+"/dir with spaces/file in dir with spaces.txt", pl.smallSize(), textContent, 0o644)
	pl.file(NamesDir+"/日本語 ディレクトリ/ファイル.txt", pl.smallSize(), textContent, 0o644)
	pl.file(NamesDir+"/"+LongDirName+"/"+LongASCIIName, pl.smallSize(), textContent, 0o644)
	for _, m := range []struct {
		name string
		mode uint32
	}{{"suid", 0o4755}, {"sgid", 0o2755}, {"readonly", 0o444}, {"private", 0o600}, {"exec", 0o755},
		{"group", 0o640}, {"setgid-dir/child/f", 0o644}, {"private-dir/secret", 0o600}, {"sticky/tmpfile", 0o666}} {
		pl.file(ModesDir+"/"+m.name, pl.smallSize(), textContent, UnixMode(m.mode))
	}
	d := DeepDir
	for i := 2; i <= max(pl.spec.Depth, 1); i++ {
		d += fmt.Sprintf("/level %d", i)
		pl.file(d+fmt.Sprintf("/file at level %d.txt", i), pl.smallSize(), textContent, pl.fileMode())
	}
}

func (pl *planner) manyFiles() {
	for i := range pl.spec.ManyFiles {
		pl.file(fmt.Sprintf("%s/m%04d.txt", ManyDir, i), pl.smallSize(), pl.kind(), pl.fileMode())
	}
}

func (pl *planner) smallFiles(homes []string) {
	for i := len(pl.p.files); i < pl.spec.Files; i++ {
		home := homes[pl.r.IntN(len(homes))]
		name := fmt.Sprintf("file-%05d%s", i, [...]string{".txt", ".log", ".bin", ".json", "", ".tar"}[pl.r.IntN(6)])
		if i%13 == 0 {
			name = fmt.Sprintf("Report %05d final (v2).txt", i)
		}
		pl.file(path.Join(home, name), pl.smallSize(), pl.kind(), pl.fileMode())
	}
}

func (pl *planner) mediumFiles(homes []string) {
	for i := range pl.spec.MediumFiles {
		home := homes[pl.r.IntN(len(homes))]
		size := 100<<10 + pl.r.Int64N(5<<20-100<<10)
		pl.file(path.Join(home, fmt.Sprintf("medium-%02d.dat", i)), size, contentKind(i%3), 0o644)
	}
}

func (pl *planner) links() {
	targets := [][2]string{
		{"rel-file", "../" + ReadmeTxt},
		{"rel-dir", "../" + DeepDir},
		{"abs", "/etc/hostname"},
		{"abs-dangling", "/nonexistent/jetsync-e2e/target"},
		{"dangling", "no/such/file"},
		{"escape", "../../../../../../outside-the-root"},
		{"self", "self"},
		{"space target", "../" + NamesDir + "/with space.txt"},
		{"ünïcödé link", "../" + NamesDir + "/ünïcödé ñ 日本.txt"},
		{"latin1 target", "../" + NamesDir + "/latin1-caf\xe9.txt"},
	}
	for _, t := range targets {
		pl.link(LinksDir+"/"+t[0], t[1])
	}
	pl.link(DeepDir+"/level 2/up-to-docs", "../../docs")
}

func (pl *planner) dir(p string, mode fs.FileMode) {
	pl.p.dirs = append(pl.p.dirs, node{path: p, mode: mode, mtime: pl.mtime()})
}

func (pl *planner) file(p string, size int64, kind contentKind, mode fs.FileMode) {
	pl.seq++
	pl.p.files = append(pl.p.files, node{path: p, size: size, kind: kind, mode: mode,
		mtime: pl.mtime(), seed: pl.spec.Seed*1_000_003 + pl.seq})
}

func (pl *planner) link(p, target string) {
	pl.p.links = append(pl.p.links, node{path: p, target: target, mtime: pl.mtime()})
}

// smallSize: mostly tiny, some up to 64 KiB, a few empty.
func (pl *planner) smallSize() int64 {
	switch x := pl.r.IntN(100); {
	case x < 5:
		return 0
	case x < 45:
		return 1 + pl.r.Int64N(1<<10)
	case x < 80:
		return 1 + pl.r.Int64N(8<<10)
	default:
		return 1 + pl.r.Int64N(64<<10)
	}
}

func (pl *planner) kind() contentKind {
	switch x := pl.r.IntN(10); {
	case x < 6:
		return textContent
	case x < 9:
		return randomContent
	default:
		return mixedContent
	}
}

func (pl *planner) fileMode() fs.FileMode {
	return [...]fs.FileMode{0o644, 0o644, 0o644, 0o644, 0o600, 0o755, 0o640, 0o444}[pl.r.IntN(8)]
}

func (pl *planner) dirMode() fs.FileMode {
	return [...]fs.FileMode{0o755, 0o755, 0o700, 0o750}[pl.r.IntN(4)]
}

// mtime is a fixed past time with nanoseconds, between 2016 and 2024.
func (pl *planner) mtime() time.Time {
	base := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	return base.Add(time.Duration(pl.r.Int64N(8*365*24)) * time.Hour).
		Add(time.Duration(pl.r.Int64N(3600e9)))
}

package verify

import (
	"fmt"
	"io/fs"
	"sort"

	"github.com/jetsync/jetsync/pkg/fsstat"
)

// KindHardlink is a difference in which names are one file: names of one
// file at the source that are separate copies here, or the reverse.
const KindHardlink = "hardlink"

// linkNames collects, during the walk, the files that have a link group
// in the state or more than one name here, to compare the groups at the
// end. Only such files are kept.
type linkNames struct {
	byGroup map[string][]string // link group -> paths
	byFile  map[uint64][]string // local inode -> paths
	group   map[string]string   // path -> link group
	file    map[string]uint64   // path -> local inode
}

func (l *linkNames) note(rel string, fi fs.FileInfo, link string) {
	ino, _ := fsstat.IDs(fi)
	if link == "" && (fsstat.Links(fi) < 2 || ino == 0) {
		return
	}
	if l.group == nil {
		l.byGroup, l.byFile = map[string][]string{}, map[uint64][]string{}
		l.group, l.file = map[string]string{}, map[string]uint64{}
	}
	if link != "" {
		l.byGroup[link] = append(l.byGroup[link], rel)
		l.group[rel] = link
	}
	if ino != 0 {
		l.byFile[ino] = append(l.byFile[ino], rel)
		l.file[rel] = ino
	}
}

// report adds a difference for each name that is not the same file as
// the first name of its group, and for each name that shares a file here
// with a name outside its group.
func (l *linkNames) report(rep *Report) {
	var diffs []Diff
	for _, names := range l.byGroup {
		sort.Strings(names)
		first := names[0]
		for _, n := range names[1:] {
			if l.file[n] == 0 || l.file[n] != l.file[first] {
				diffs = append(diffs, Diff{Path: n, Kind: KindHardlink,
					Want: "the same file as " + first, Got: "a separate file"})
			}
		}
	}
	for _, names := range l.byFile {
		sort.Strings(names)
		for _, n := range names[1:] {
			if g := l.group[n]; g == "" || g != l.group[names[0]] {
				diffs = append(diffs, Diff{Path: n, Kind: KindHardlink,
					Want: "a separate file", Got: fmt.Sprintf("the same file as %s", names[0])})
			}
		}
	}
	sort.Slice(diffs, func(i, j int) bool { return diffs[i].Path < diffs[j].Path })
	for _, d := range diffs {
		if !rep.add(d) {
			return
		}
	}
}

package verify

import (
	"fmt"
	"io/fs"
)

// Allocation a sparse file may take beyond its data before verify calls
// it not sparse: file systems allocate in blocks (ZFS records, btrfs
// extents, preallocation), around each extent and at the file's ends.
const (
	allocGrain = 128 << 10 // a data range may take this much more, at each end
	allocSlack = 1 << 20   // and the whole file this much more
)

// compareSparse names a file published sparse that occupies far more
// than its data: its holes were written out.
func (m *merger) compareSparse(rel string, fi fs.FileInfo, w want) {
	alloc, ok := allocated(fi)
	if !ok {
		return // the platform does not say
	}
	limit := w.DataLen + 2*allocGrain*int64(w.Extents) + allocSlack
	if alloc > limit {
		m.rep.add(Diff{Path: rel, Kind: KindSparse,
			Want: fmt.Sprintf("%s allocated of %s", binarySize(w.DataLen), binarySize(w.Size)), Got: binarySize(alloc)})
	}
}

// binarySize writes n in binary units: 512 B, 128 KiB, 1.5 GiB.
func binarySize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), units[u])
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}

package apply

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/fsstat"
	"github.com/jetsync/jetsync/pkg/wire"
)

// SkipSpecial is the kind told to Attrs.Skipped for a device node this
// process may not make (it is not root).
const SkipSpecial = "special"

var specialKinds = map[wire.Type]uint32{wire.Fifo: fsroot.Fifo, wire.CharDev: fsroot.CharDev, wire.BlockDev: fsroot.BlockDev}

// applySpecial makes rec.Path the FIFO or device node rec describes. A
// device node the process may not make is reported to Attrs.Skipped and
// is not an error.
func (a *Applier) applySpecial(rec *wire.Record) (Result, error) {
	fi, err := a.Root.EnsureParentsLstat(rec.Path)
	if err != nil {
		return Result{}, err
	}
	mode, mtime := wire.FileMode(rec.Mode), time.Unix(0, rec.MTime)
	if fi != nil && sameSpecial(fi, rec) {
		changed, err := a.fixMeta(rec, fi)
		return Result{Changed: changed}, err
	}
	err = a.Root.MknodNoSync(rec.Path, specialKinds[rec.Type], mode, rec.Rdev, mtime)
	if errors.Is(err, fsroot.ErrMknodNotPermitted) {
		if a.Attrs != nil {
			a.Attrs.skip(SkipSpecial, rec.Path, fmt.Errorf("%s: %w", rec.Type, err))
		}
		return Result{}, nil
	}
	res := dirOf(Result{Changed: true}, rec.Path)
	if err != nil {
		return res, err
	}
	changed, err := a.applyAttrs(rec)
	if err != nil || !changed {
		return res, err
	}
	// A chown may clear setuid and setgid: set the mode again.
	return res, a.Root.SetMeta(rec.Path, mode, mtime)
}

// sameSpecial reports whether fi is already the kind of special file rec
// wants, with its device number.
func sameSpecial(fi fs.FileInfo, rec *wire.Record) bool {
	t := fi.Mode().Type()
	switch rec.Type {
	case wire.Fifo:
		return t == fs.ModeNamedPipe
	case wire.CharDev:
		return t == fs.ModeDevice|fs.ModeCharDevice && fsstat.Rdev(fi) == rec.Rdev
	case wire.BlockDev:
		return t == fs.ModeDevice && fsstat.Rdev(fi) == rec.Rdev
	}
	return false
}

package verify

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/wire"
)

// compare adds the differences between the local entry at path and w.
func (m *merger) compare(path, rel string, d fs.DirEntry, w want) error {
	fi, err := d.Info()
	if errors.Is(err, fs.ErrNotExist) {
		m.rep.add(Diff{Path: rel, Kind: KindMissing, Want: string(w.Type)})
		return nil
	}
	if err != nil {
		return fmt.Errorf("lstat %s: %w", path, err)
	}
	got := kindOf(fi.Mode().Type())
	if got != string(w.Type) {
		m.rep.add(Diff{Path: rel, Kind: KindType, Want: string(w.Type), Got: got})
		return nil
	}
	switch w.Type {
	case wire.File:
		err = m.compareFile(path, rel, fi, w)
	case wire.Symlink:
		err = m.compareLink(path, rel, w)
	}
	if err != nil {
		return err
	}
	if w.Type != wire.Symlink {
		m.compareMode(rel, fi, w)
	}
	m.compareMTime(rel, fi, w)
	return m.compareAttrs(path, rel, fi, w)
}

func (m *merger) compareFile(path, rel string, fi fs.FileInfo, w want) error {
	m.links.note(rel, fi, w.link)
	if fi.Size() != w.Size {
		m.rep.add(Diff{Path: rel, Kind: KindSize, Want: fmt.Sprint(w.Size), Got: fmt.Sprint(fi.Size())})
		return nil // the content differs too; no need to read it
	}
	h, err := m.hashFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		m.rep.add(Diff{Path: rel, Kind: KindMissing, Want: string(w.Type)})
		return nil
	}
	if err != nil {
		return err
	}
	if h != w.Hash {
		m.rep.add(Diff{Path: rel, Kind: KindContent, Want: w.Hash.String(), Got: h.String()})
		return nil
	}
	if w.Sparse && !m.ignore.sparse {
		m.compareSparse(rel, fi, w)
	}
	return nil
}

func (m *merger) compareLink(path, rel string, w want) error {
	t, err := os.Readlink(path)
	if errors.Is(err, fs.ErrNotExist) {
		m.rep.add(Diff{Path: rel, Kind: KindMissing, Want: string(w.Type)})
		return nil
	}
	if err != nil {
		return fmt.Errorf("read link %s: %w", path, err)
	}
	if t != w.Target {
		m.rep.add(Diff{Path: rel, Kind: KindTarget, Want: w.Target, Got: t})
	}
	return nil
}

func (m *merger) compareMode(rel string, fi fs.FileInfo, w want) {
	if got := wire.ModeBits(fi.Mode()); got != w.Mode {
		m.rep.add(Diff{Path: rel, Kind: KindMode, Want: fmt.Sprintf("%04o", w.Mode), Got: fmt.Sprintf("%04o", got)})
	}
}

func (m *merger) compareMTime(rel string, fi fs.FileInfo, w want) {
	if got := fi.ModTime().UnixNano(); got != w.MTime {
		m.rep.add(Diff{Path: rel, Kind: KindMTime, Want: formatTime(w.MTime), Got: formatTime(got)})
	}
}

// hashFile returns the BLAKE3 of the regular file at path, reading only
// its data (holes hash as zeros). It refuses to follow a symlink swapped
// in since the walk saw the file.
func (m *merger) hashFile(path string) (wire.Hash, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return wire.Hash{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	h, _, err := chunk.HashFile(f, m.buf, func(n int) error {
		if err := m.ctx.Err(); err != nil {
			return err
		}
		return m.pace.wait(m.ctx, n)
	})
	if err != nil && m.ctx.Err() == nil {
		return wire.Hash{}, fmt.Errorf("read %s: %w", path, err)
	}
	return h, err
}

// kindOf names a file type the way wire.Type does, and the types the state
// cannot hold by what they are.
func kindOf(t fs.FileMode) string {
	switch {
	case t.IsRegular():
		return string(wire.File)
	case t.IsDir():
		return string(wire.Dir)
	case t&fs.ModeSymlink != 0:
		return string(wire.Symlink)
	case t&fs.ModeNamedPipe != 0:
		return string(wire.Fifo)
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeCharDevice != 0:
		return string(wire.CharDev)
	case t&fs.ModeDevice != 0:
		return string(wire.BlockDev)
	default:
		return "other"
	}
}

func formatTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

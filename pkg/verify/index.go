package verify

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/sign"
	"github.com/jetsync/jetsync/pkg/wire"
)

// index holds the wanted state on disk, in a throwaway bbolt file, keyed
// so that its byte order is the order in which the walk visits paths.
type index struct {
	db   *bolt.DB
	path string
	root *want // the folder root's own record, if the source published one
	key  *sign.Verifier
	seal *seal.FolderKeys // nil: the folder is not encrypted
}

var bucketName = []byte("want")

// want is what the local tree must hold at one path.
type want struct {
	Type   wire.Type
	Mode   uint32
	MTime  int64
	Size   int64
	Hash   wire.Hash
	Target string
	wantAttrs
	// Sparse: the file was published as extents, DataLen bytes in
	// Extents ranges; the rest should be holes.
	Sparse  bool
	DataLen int64
	Extents uint32
}

func openIndex() (*index, error) {
	f, err := os.CreateTemp("", "jetsync-verify-*.db")
	if err != nil {
		return nil, fmt.Errorf("create verify index: %w", err)
	}
	path := f.Name()
	f.Close()
	// Durability is pointless for a file deleted at the end.
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true, NoGrowSync: true, NoFreelistSync: true})
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("open verify index: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(bucketName)
		return err
	})
	if err != nil {
		db.Close()
		os.Remove(path)
		return nil, fmt.Errorf("create verify index bucket: %w", err)
	}
	return &index{db: db, path: path}, nil
}

func (x *index) close(log *slog.Logger) {
	if err := x.db.Close(); err != nil {
		log.Warn("close verify index", "err", err)
	}
	if err := os.Remove(x.path); err != nil {
		log.Warn("remove verify index", "path", x.path, "err", err)
	}
}

// op is one pending index change: a put, or a delete when val is nil.
type op struct{ key, val []byte }

// apply writes a batch of ops in one transaction, in order.
func (x *index) apply(ops []op) error {
	err := x.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketName)
		for _, o := range ops {
			var err error
			if o.val == nil {
				err = b.Delete(o.key)
			} else {
				err = b.Put(o.key, o.val)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write verify index: %w", err)
	}
	return nil
}

// tally counts the wanted entries, files and bytes.
func (x *index) tally(rep *Report) error {
	return x.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketName).ForEach(func(_, v []byte) error {
			w, err := decodeWant(v)
			if err != nil {
				return err
			}
			rep.Entries++
			if w.Type == wire.File {
				rep.Files++
				rep.Bytes += w.Size
			}
			return nil
		})
	})
}

// indexKey maps a slash path to a key whose byte order is the walk's
// order: depth first, each directory's names in byte order. Replacing '/'
// by NUL (which no name contains) sorts "a/b" right after "a" and before
// "a-c", as the walk visits them.
func indexKey(path string) []byte {
	return []byte(strings.ReplaceAll(path, "/", "\x00"))
}

// pathOf inverts indexKey.
func pathOf(key []byte) string {
	return string(bytes.ReplaceAll(key, []byte{0}, []byte{'/'}))
}

// Value layout: type byte, mode u32, mtime i64, size i64, hash [32],
// target (uvarint length, bytes), a sparse file's data length and extent
// count (uvarints, after a 1; a dense file has a 0), then the attributes
// (see wantAttrs).
const wantHeader = 1 + 4 + 8 + 8 + 32

func encodeWant(r *wire.Record) []byte {
	w := want{Type: r.Type, Mode: r.Mode, MTime: r.MTime, Size: r.Size, Hash: r.Hash, Target: r.Target,
		wantAttrs: attrsOfRecord(r)}
	if r.Type == wire.File && r.Extents != nil {
		w.Sparse, w.DataLen, w.Extents = true, r.DataLen(), uint32(len(r.Extents))
	}
	return w.encode()
}

func (w want) encode() []byte {
	b := make([]byte, 0, wantHeader+len(w.Target)+24+len(w.xattrs)+len(w.acl))
	b = append(b, typeCode(w.Type))
	b = binary.BigEndian.AppendUint32(b, w.Mode)
	b = binary.BigEndian.AppendUint64(b, uint64(w.MTime))
	b = binary.BigEndian.AppendUint64(b, uint64(w.Size))
	b = append(b, w.Hash[:]...)
	b = appendBytes(b, w.Target)
	if w.Sparse {
		b = binary.AppendUvarint(append(b, 1), uint64(w.DataLen))
		b = binary.AppendUvarint(b, uint64(w.Extents))
	} else {
		b = append(b, 0)
	}
	return w.wantAttrs.append(b)
}

func decodeWant(b []byte) (want, error) {
	var w want
	if len(b) < wantHeader {
		return w, fmt.Errorf("read verify index: entry of %d bytes", len(b))
	}
	switch b[0] {
	case 'f':
		w.Type = wire.File
	case 'd':
		w.Type = wire.Dir
	case 'l':
		w.Type = wire.Symlink
	case 'p':
		w.Type = wire.Fifo
	case 'c':
		w.Type = wire.CharDev
	case 'b':
		w.Type = wire.BlockDev
	default:
		return w, fmt.Errorf("read verify index: type code %q", b[0])
	}
	w.Mode = binary.BigEndian.Uint32(b[1:])
	w.MTime = int64(binary.BigEndian.Uint64(b[5:]))
	w.Size = int64(binary.BigEndian.Uint64(b[13:]))
	copy(w.Hash[:], b[21:])
	rest := b[wantHeader:]
	target, rest, ok := cutBytes(rest)
	if !ok {
		return w, fmt.Errorf("read verify index: bad target")
	}
	w.Target = target
	if rest, ok = w.cutSparse(rest); !ok {
		return w, fmt.Errorf("read verify index: bad sparse layout")
	}
	if err := w.wantAttrs.decode(rest); err != nil {
		return w, err
	}
	if w.Sparse && w.Type != wire.File {
		return w, fmt.Errorf("read verify index: sparse %s", w.Type)
	}
	return w, nil
}

func typeCode(t wire.Type) byte {
	switch t {
	case wire.File:
		return 'f'
	case wire.Dir:
		return 'd'
	case wire.Fifo:
		return 'p'
	case wire.CharDev:
		return 'c'
	case wire.BlockDev:
		return 'b'
	default:
		return 'l'
	}
}

// cutSparse reads the sparse layout at the start of b: a 0, or a 1 and
// the data length and extent count as minimal uvarints.
func (w *want) cutSparse(b []byte) ([]byte, bool) {
	if len(b) == 0 || b[0] > 1 {
		return nil, false
	}
	if b[0] == 0 {
		return b[1:], true
	}
	b = b[1:]
	var vals [2]uint64
	for i := range vals {
		v, k := binary.Uvarint(b)
		if k <= 0 || k != len(binary.AppendUvarint(nil, v)) {
			return nil, false
		}
		vals[i], b = v, b[k:]
	}
	if vals[0] > wire.MaxFileSize || vals[1] > wire.MaxExtents {
		return nil, false
	}
	w.Sparse, w.DataLen, w.Extents = true, int64(vals[0]), uint32(vals[1])
	return b, true
}

package index

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var (
	bucketEntries = []byte("entries")
	bucketMeta    = []byte("meta")
	// legacyChunks recorded which chunks releases that kept content on
	// the broker had published there; Open removes it.
	legacyChunks = []byte("chunks")
)

// Meta keys. Counters are kept here so Stats never scans the tree.
var (
	keyID        = []byte("id")
	keyEpoch     = []byte("epoch")
	keyCreated   = []byte("created")
	keyLastAcked = []byte("last_acked")
	keyFiles     = []byte("files")
	keyDirs      = []byte("dirs")
	keySymlinks  = []byte("symlinks")
	keyBytes     = []byte("bytes")
	// keyPublished counts the entries whose record the stream must hold;
	// an index of an older release lacks it until Open counts them.
	keyPublished = []byte("published")
)

// ErrLocked means another process holds the index open.
var ErrLocked = errors.New("index is in use by another process (is another source running for this folder?)")

// lockTimeout bounds the wait for bbolt's file lock.
var lockTimeout = 2 * time.Second

// Index is an open index file. Its methods are safe for concurrent use;
// bbolt allows one writer and any number of readers at a time.
type Index struct {
	db   *bolt.DB
	path string
	id   string
}

// Meta is the folder-wide state the source keeps next to the entries.
type Meta struct {
	ID        string // random source instance id, generated once
	Epoch     uint64 // bumped on every detected broker data loss
	Created   int64  // unix ns creation time of the stream last seen; 0 = none yet
	LastAcked uint64 // highest stream sequence acknowledged to the source
}

// Stats counts the live (non-deleted) entries.
type Stats struct {
	Files, Dirs, Symlinks int64
	Bytes                 int64 // sum of file sizes
	// Published counts the live entries whose record the broker
	// acknowledged (Seq != 0): records the state stream must hold, or a
	// newer state of the same path. Tombstones are not counted: the
	// broker may drop them (see --tombstone-ttl).
	Published int64
}

// Open opens or creates the index at path, creating its directory.
func Open(path string) (*Index, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create index dir: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open index %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	ix := &Index{db: db, path: path}
	if err := db.Update(ix.init); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialise index %s: %w", path, err)
	}
	return ix, nil
}

// init creates the buckets and the source id on first use.
func (ix *Index) init(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketEntries, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	if err := tx.DeleteBucket(legacyChunks); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
		return fmt.Errorf("remove the chunk table of an older release: %w", err)
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keyPublished) == nil {
		if err := putUint(meta, keyPublished, countPublished(tx.Bucket(bucketEntries))); err != nil {
			return err
		}
	}
	if id := meta.Get(keyID); id != nil {
		ix.id = string(id)
		return nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("generate source id: %w", err)
	}
	ix.id = hex.EncodeToString(b[:])
	return meta.Put(keyID, []byte(ix.id))
}

// Close closes the file.
func (ix *Index) Close() error {
	if err := ix.db.Close(); err != nil {
		return fmt.Errorf("close index: %w", err)
	}
	return nil
}

// Path is the index file.
func (ix *Index) Path() string { return ix.path }

// ID is the source id stored in the index.
func (ix *Index) ID() string { return ix.id }

// Get returns the full entry of path, or nil if there is none.
func (ix *Index) Get(path string) (*Entry, error) {
	var e *Entry
	err := ix.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = getEntry(tx.Bucket(bucketEntries), path, true)
		return err
	})
	return e, err
}

func getEntry(b *bolt.Bucket, path string, full bool) (*Entry, error) {
	v := b.Get(wire.SortKey(path))
	if v == nil {
		return nil, nil
	}
	return decodeEntry(path, v, full)
}

// HasDescendants reports whether any entry lies below dir.
func (ix *Index) HasDescendants(dir string) (bool, error) {
	prefix := childPrefix(dir)
	var found bool
	err := ix.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketEntries).Cursor().Seek(prefix)
		found = k != nil && bytes.HasPrefix(k, prefix)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("read index: %w", err)
	}
	return found, nil
}

// Meta returns the folder meta.
func (ix *Index) Meta() (Meta, error) {
	m := Meta{ID: ix.id}
	err := ix.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		m.Epoch = getUint(b, keyEpoch)
		m.Created = int64(getUint(b, keyCreated))
		m.LastAcked = getUint(b, keyLastAcked)
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("read index meta: %w", err)
	}
	return m, nil
}

// SetMeta stores m's Epoch, Created and LastAcked; the ID never changes.
func (ix *Index) SetMeta(m Meta) error {
	err := ix.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		return errors.Join(putUint(b, keyEpoch, m.Epoch),
			putUint(b, keyCreated, uint64(m.Created)),
			putUint(b, keyLastAcked, m.LastAcked))
	})
	if err != nil {
		return fmt.Errorf("write index meta: %w", err)
	}
	return nil
}

// Stats returns the live entry counters.
func (ix *Index) Stats() (Stats, error) {
	var s Stats
	err := ix.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		s = Stats{Files: int64(getUint(b, keyFiles)), Dirs: int64(getUint(b, keyDirs)),
			Symlinks: int64(getUint(b, keySymlinks)), Bytes: int64(getUint(b, keyBytes)),
			Published: int64(getUint(b, keyPublished))}
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("read index stats: %w", err)
	}
	return s, nil
}

func getUint(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putUint(b *bolt.Bucket, k []byte, v uint64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(nil, v))
}

// Head returns the entry of path without its chunk lists, or nil.
func (ix *Index) Head(path string) (*Entry, error) {
	var e *Entry
	err := ix.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = getEntry(tx.Bucket(bucketEntries), path, false)
		return err
	})
	return e, err
}

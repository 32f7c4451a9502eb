package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

var (
	bucketApplied = []byte("applied") // path key → appliedEntry
	bucketChunks  = []byte("chunks")  // chunk hash → location of a local copy
	bucketSeen    = []byte("seen")    // path keys read during a reconcile
	// bucketUnknown holds, during a reconcile, the state subjects whose
	// latest message could not be read (subject token → nothing): their
	// path's state is unknown, not absent, so the reconcile keeps it.
	bucketUnknown = []byte("unknown")
	bucketMeta    = []byte("meta")
	// bucketDirDue holds the directories whose mode and mtime must be set
	// again because their contents changed (path key → nothing). It is
	// written with the position, so a kill cannot lose one.
	bucketDirDue = []byte("dir_due")
	keyCursor    = []byte("cursor")
	keyEpoch     = []byte("epoch")
	keyCreated   = []byte("stream_created")
	keyCaughtUp  = []byte("caught_up") // last time everything published was applied, unix ns
)

// errBadValue marks an index value this build cannot read; the entry is
// treated as unknown, which only costs a re-check of the local file.
var errBadValue = errors.New("unreadable index value")

// store is the replica's local index: what it applied, where content can
// be found locally, and its position in the stream.
type store struct {
	db *bolt.DB
	// pathKey is the subject token of a path (keyed in an encrypted
	// folder), as unknown states are remembered by it.
	pathKey func(string) string
}

// openStore opens the index at path, creating what a new one lacks; the
// seen set is made only by a reconcile.
func openStore(path string) (*store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open replica index %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketApplied, bucketChunks, bucketMeta, bucketDirDue, bucketParked} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init replica index: %w", err)
	}
	return &store{db: db, pathKey: wire.PathKey}, nil
}

// close releases the index file and its lock for the next run.
func (s *store) close() error { return s.db.Close() }

// position is where the replica stands in the stream.
type position struct {
	Cursor  uint64 // every record up to here is applied durably
	Epoch   uint64
	Created int64 // stream creation time, unix ns
	// CaughtUp is the last time the replica had applied everything
	// published (unix ns): tombstones younger than that were all seen.
	CaughtUp int64
}

// position reads where the last run stopped; a new index is at 0, which
// makes the replica reconcile.
func (s *store) position() (position, error) {
	var p position
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		p.Cursor = getU64(b, keyCursor)
		p.Epoch = getU64(b, keyEpoch)
		p.Created = int64(getU64(b, keyCreated))
		p.CaughtUp = int64(getU64(b, keyCaughtUp))
		return nil
	})
	return p, err
}

// setPosition records p on its own, for a position that covers nothing
// new (the caught-up time).
func (s *store) setPosition(p position) error {
	return s.db.Update(func(tx *bolt.Tx) error { return putPosition(tx, p) })
}

// putPosition writes p in tx, so that callers can make it durable
// together with what it covers.
func putPosition(tx *bolt.Tx, p position) error {
	b := tx.Bucket(bucketMeta)
	return errors.Join(putU64(b, keyCursor, p.Cursor), putU64(b, keyEpoch, p.Epoch),
		putU64(b, keyCreated, uint64(p.Created)), putU64(b, keyCaughtUp, uint64(p.CaughtUp)))
}

// getU64 reads a counter; a missing or short value is 0, as in a new
// index.
func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// putU64 writes v big-endian, the encoding existing indexes hold.
func putU64(b *bolt.Bucket, k []byte, v uint64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(nil, v))
}

// applied is what the replica last applied to path; nil when nothing or
// unreadable, which only costs a re-check of the local file.
func (s *store) applied(path string) (*appliedEntry, error) {
	var e *appliedEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		if path == wire.RootPath {
			var err error
			e, err = rootEntry(tx)
			return err
		}
		v := tx.Bucket(bucketApplied).Get(wire.SortKey(path))
		if v == nil {
			return nil
		}
		var err error
		e, err = unmarshalApplied(v)
		return err
	})
	if errors.Is(err, errBadValue) {
		return nil, nil
	}
	return e, err
}

// change is what applying one record changes in the index.
type change struct {
	rec *wire.Record
	seq uint64 // the record's stream sequence
	// entry is what was applied; nil forgets the path and everything
	// under it (as does a Deleted record).
	entry  *appliedEntry
	chunks []wire.ChunkRef // where the file's chunks can now be read locally
	// seen: a reconcile is running and the path is part of the published
	// state, so the reconcile must keep it.
	seen bool
	// heldBack: a reconcile holds the record back (see deferStale); it is
	// not applied yet, so only its path is marked seen.
	heldBack bool
	// park: the record could not be applied and is set aside to be
	// retried; the path keeps what was applied before.
	park *parkedEntry
	// unknown: rec is nil, and a reconcile read a message it could not
	// decode on the state subject with this token.
	unknown string
}

// commit records changes and the position that covers them in one
// transaction: the position never claims a change the index lacks, so
// the broker's copy is acknowledged only after a durable apply.
func (s *store) commit(changes []change, pos position) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := s.putChanges(tx, changes); err != nil {
			return err
		}
		return putPosition(tx, pos)
	})
}

// record records changes in one transaction and leaves the position
// alone: a reconcile's held-back records are applied while its position
// stays at 0.
func (s *store) record(changes []change) error {
	return s.db.Update(func(tx *bolt.Tx) error { return s.putChanges(tx, changes) })
}

// putChanges writes changes in stream order, so that a later record of a
// path overrides an earlier one.
func (s *store) putChanges(tx *bolt.Tx, changes []change) error {
	for _, c := range changes {
		if err := s.putChange(tx, c); err != nil {
			return err
		}
	}
	return nil
}

// putChange writes c, with the directories it disturbed marked due in
// the same transaction, so that a kill cannot lose one.
func (s *store) putChange(tx *bolt.Tx, c change) error {
	if c.rec == nil {
		return tx.Bucket(bucketUnknown).Put([]byte(c.unknown), nil)
	}
	if c.rec.Path == wire.RootPath {
		return putRootChange(tx, c.entry) // never parked, seen or removed
	}
	if u := tx.Bucket(bucketUnknown); u != nil {
		// A readable state after an unreadable one on the same subject.
		if err := u.Delete([]byte(s.pathKey(c.rec.Path))); err != nil {
			return err
		}
	}
	if c.park != nil {
		if c.seen {
			if err := putSeen(tx, c.rec.Path); err != nil {
				return err
			}
		}
		return putParked(tx, c.park)
	}
	if c.heldBack {
		return putSeen(tx, c.rec.Path)
	}
	// Applied: a record of the path parked before it is superseded.
	if err := unpark(tx, c.rec.Path, c.seq); err != nil {
		return err
	}
	if err := markDirsDue(tx, c.rec); err != nil {
		return err
	}
	if c.seen {
		if err := putSeen(tx, c.rec.Path); err != nil {
			return err
		}
	}
	if c.rec.Type == wire.Deleted || c.entry == nil {
		if c.rec.Type == wire.Deleted {
			if err := putTomb(tx, c.rec.Path, c.rec.Time); err != nil {
				return err
			}
		}
		return deleteTree(tx, c.rec.Path)
	}
	applied := tx.Bucket(bucketApplied)
	key := wire.SortKey(c.rec.Path)
	var oldLink string
	if v := applied.Get(key); v != nil {
		if old, err := unmarshalApplied(v); err == nil {
			oldLink = old.Link
		}
	}
	if oldLink != "" || c.entry.Link != "" {
		if err := putLink(tx, c.rec.Path, oldLink, c.entry.Link); err != nil {
			return err
		}
	}
	if err := applied.Put(key, c.entry.marshal()); err != nil {
		return err
	}
	return putChunkLocs(tx, c.rec.Path, c.rec.Extents, c.chunks)
}

// markDirsDue records, in the transaction that commits the change, the
// directories whose mtime a change disturbed: the parent always, and the
// directory itself for a Dir record; the root only once its own record
// was applied (sources before record version 4 publish none).
func markDirsDue(tx *bolt.Tx, rec *wire.Record) error {
	b := tx.Bucket(bucketDirDue)
	for _, d := range []string{wire.Parent(rec.Path), rec.Path} {
		if d == wire.RootPath {
			if err := markRootDue(tx); err != nil {
				return err
			}
			continue
		}
		if d == rec.Path && rec.Type != wire.Dir {
			continue
		}
		if err := b.Put(wire.SortKey(d), nil); err != nil {
			return err
		}
	}
	return nil
}

// dirsDue lists the directories whose mode and mtime must be set again.
func (s *store) dirsDue() ([]string, error) {
	var dirs []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDirDue).ForEach(func(k, _ []byte) error {
			dirs = append(dirs, duePath(k))
			return nil
		})
	})
	return dirs, err
}

// clearDirsDue drops the marks of dirs once their metadata is set: until
// then a kill leaves them due, and the work is done again.
func (s *store) clearDirsDue(dirs []string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDirDue)
		for _, d := range dirs {
			if err := b.Delete(dueKey(d)); err != nil {
				return err
			}
		}
		return nil
	})
}

// beginReconcile starts an empty seen set, dropping the one an
// interrupted reconcile left: what it saw may have changed since. The
// parked records go too: the reconcile reads every record again, and
// parks again those it still cannot apply.
func (s *store) beginReconcile() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSeen, bucketUnknown, bucketParked} {
			if tx.Bucket(b) != nil {
				if err := tx.DeleteBucket(b); err != nil {
					return err
				}
			}
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// putSeen marks path as part of the published state the running
// reconcile reads.
func putSeen(tx *bolt.Tx, path string) error {
	return tx.Bucket(bucketSeen).Put(wire.SortKey(path), nil)
}

// unseen returns the paths walk visits that the reconcile did not see,
// in walk order: a directory without what lies beneath it (it goes as a
// whole), or with descend, with what walk visits beneath it (walk skips
// what must stay, so the directory may have to). The seen set is read in
// one transaction for the whole walk.
func (s *store) unseen(walk func(func(path string, d fs.DirEntry) error) error, descend bool) ([]string, error) {
	var extra []string
	err := s.db.View(func(tx *bolt.Tx) error {
		seen, unknown := tx.Bucket(bucketSeen), tx.Bucket(bucketUnknown)
		return walk(func(path string, d fs.DirEntry) error {
			if seen.Get(wire.SortKey(path)) != nil {
				return nil
			}
			if unknown != nil && unknown.Get([]byte(s.pathKey(path))) != nil {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			extra = append(extra, path)
			if d.IsDir() && !descend {
				return fs.SkipDir
			}
			return nil
		})
	})
	return extra, err
}

// forgetRemoved forgets a path the reconcile removed, and everything
// under it, and marks its parent due, whose mtime the removal changed.
func (s *store) forgetRemoved(path string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := deleteTree(tx, path); err != nil {
			return err
		}
		return markDirsDue(tx, &wire.Record{Path: path, Type: wire.Deleted})
	})
}

// endReconcile drops the seen set and records pos, the position the
// reconcile reached, in one transaction: a kill before it leaves the
// position at 0 and the reconcile is done again.
func (s *store) endReconcile(pos position) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketSeen); err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketUnknown); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return err
		}
		return putPosition(tx, pos)
	})
}

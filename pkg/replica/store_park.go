package replica

import (
	"encoding/binary"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

// bucketParked holds the records the replica could not apply for a
// reason retrying at once cannot fix (path key → parkedEntry). They no
// longer hold the position: the stream keeps them as their path's latest
// state, and the replica reads them again from there to retry.
var bucketParked = []byte("parked")

// parkedEntry is a record set aside: which one, why, and when to retry.
type parkedEntry struct {
	Path     string
	Seq      uint64 // the record's stream sequence
	Time     int64  // when it was published (unix ns): the lag it adds
	Since    int64  // when it was first parked (unix ns)
	Next     int64  // when to retry it (unix ns)
	Attempts uint64 // failed attempts since it was parked
	Reason   string
}

func (e *parkedEntry) marshal() []byte {
	b := []byte{1}
	b = binary.AppendUvarint(b, e.Seq)
	b = binary.AppendVarint(b, e.Time)
	b = binary.AppendVarint(b, e.Since)
	b = binary.AppendVarint(b, e.Next)
	b = binary.AppendUvarint(b, e.Attempts)
	return append(b, e.Reason...)
}

// unmarshalParked decodes a parked entry of path; a damaged one is
// errBadValue.
func unmarshalParked(path string, b []byte) (*parkedEntry, error) {
	if len(b) < 1 || b[0] != 1 {
		return nil, errBadValue
	}
	r := reader{b: b[1:]}
	e := &parkedEntry{Path: path, Seq: r.uvarint(), Time: r.varint(), Since: r.varint(), Next: r.varint(),
		Attempts: r.uvarint()}
	e.Reason = string(r.b)
	if r.err || e.Seq == 0 {
		return nil, errBadValue
	}
	return e, nil
}

// putParked records e in tx, replacing any earlier entry of its path.
func putParked(tx *bolt.Tx, e *parkedEntry) error {
	return tx.Bucket(bucketParked).Put(wire.SortKey(e.Path), e.marshal())
}

// unpark drops path's entry in tx; seq 0 drops whatever is there, else
// only an entry of a record older than or equal to seq (a newer record of
// the path was parked since, and stays).
func unpark(tx *bolt.Tx, path string, seq uint64) error {
	b := tx.Bucket(bucketParked)
	key := wire.SortKey(path)
	v := b.Get(key)
	if v == nil {
		return nil
	}
	if e, err := unmarshalParked(path, v); seq != 0 && err == nil && e.Seq > seq {
		return nil
	}
	return b.Delete(key)
}

// isParked reports whether path has a parked record.
func (s *store) isParked(path string) bool {
	var ok bool
	_ = s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketParked).Get(wire.SortKey(path)) != nil
		return nil
	})
	return ok
}

// repark records e again after a failed retry, unless its entry went
// meanwhile (a newer state of the path was applied) or is another
// record's.
func (s *store) repark(e *parkedEntry) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		old, err := unmarshalParked(e.Path, tx.Bucket(bucketParked).Get(wire.SortKey(e.Path)))
		if err != nil || old.Seq != e.Seq {
			return nil
		}
		return putParked(tx, e)
	})
}

// unparkSeq drops path's entry if it is still the one of record seq.
func (s *store) unparkSeq(path string, seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketParked)
		key := wire.SortKey(path)
		if e, err := unmarshalParked(path, b.Get(key)); err == nil && e.Seq != seq {
			return nil
		}
		return b.Delete(key)
	})
}

// parkedState sums up the parked records: how many, the publish time of
// the oldest (0: none), the first few by sequence for the status report,
// the ones due for a retry at now (at most limit), and when the next one
// not yet due is (0: none). Damaged entries are dropped.
type parkedState struct {
	count  int
	oldest int64
	first  []parkedEntry
	due    []parkedEntry
	next   int64
}

// parked reads the parked records' state; skip names paths whose retry is
// under way, which are neither due nor counted for the next retry.
func (s *store) parked(now int64, limit int, skip func(string) bool) (parkedState, error) {
	var st parkedState
	var bad [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketParked).ForEach(func(k, v []byte) error {
			e, err := unmarshalParked(wire.SortPath(k), v)
			if err != nil {
				bad = append(bad, k)
				return nil
			}
			st.count++
			if st.oldest == 0 || (e.Time > 0 && e.Time < st.oldest) {
				st.oldest = e.Time
			}
			st.first = append(st.first, *e)
			if len(st.first) > 2*maxStuckShown {
				st.first = firstBySeq(st.first, maxStuckShown)
			}
			switch {
			case skip(e.Path):
			case e.Next <= now && len(st.due) < limit:
				st.due = append(st.due, *e)
			case e.Next > now && (st.next == 0 || e.Next < st.next):
				st.next = e.Next
			}
			return nil
		})
	})
	if err == nil && len(bad) > 0 {
		err = s.db.Update(func(tx *bolt.Tx) error {
			for _, k := range bad {
				if err := tx.Bucket(bucketParked).Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
	}
	st.first = firstBySeq(st.first, maxStuckShown)
	return st, err
}

// maxStuckShown is how many parked paths the status report names.
const maxStuckShown = 32

func firstBySeq(es []parkedEntry, n int) []parkedEntry {
	sort.Slice(es, func(i, j int) bool { return es[i].Seq < es[j].Seq })
	return es[:min(n, len(es))]
}

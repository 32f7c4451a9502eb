package replica

import (
	"errors"
	"fmt"
	"time"
)

// verdict says why a replica's position in the stream cannot be trusted
// any more, and so why it must reconcile against the full published state.
// The zero verdict means the position is good.
type verdict struct {
	reason string
	// loss: the broker lost data the replica may have applied, so what the
	// stream holds before the position may be older than the replica's
	// copy (see session).
	loss bool
}

func (v verdict) ok() bool { return v.reason == "" }

// standing is what the replica trusts about where it stands.
type standing struct {
	atStart     bool   // checked before the session reads anything
	cursor      uint64 // everything up to here is applied; 0: nothing yet
	lastSeen    uint64 // the highest sequence read (>= cursor)
	created     int64  // creation time (unix ns) of the stream the position is in
	epoch       uint64 // the source epoch the replica follows
	caughtUp    int64  // last time everything published was applied (unix ns)
	reconciling bool   // a reconcile is under way: it settles created, epoch and caughtUp itself
}

// brokerState is what the broker says now.
type brokerState struct {
	created      int64  // the stream's creation time (unix ns)
	lastSeq      uint64 // the stream's last sequence
	epoch        uint64 // the newest epoch seen: the folder meta's or a record's
	tombstoneTTL int64  // from the folder meta (ns; 0: tombstones kept forever)
}

// judge is the one place that decides whether a position is still valid;
// every check (at session start, every CheckInterval, on each record)
// asks it.
func judge(s standing, b brokerState, now time.Time) verdict {
	switch {
	case s.atStart && s.cursor == 0:
		return verdict{reason: "first sync"}
	case b.lastSeq < s.lastSeen:
		return verdict{reason: fmt.Sprintf("the stream ends at %d, before our position %d (broker lost messages)", b.lastSeq, s.lastSeen), loss: true}
	case s.reconciling:
		return verdict{}
	case b.created != s.created:
		return verdict{reason: "the stream was recreated (broker lost its store?)", loss: true}
	case b.epoch > s.epoch:
		return verdict{reason: fmt.Sprintf("the source moved to epoch %d (we were at %d)", b.epoch, s.epoch), loss: true}
	case missedTombstones(s.caughtUp, b.tombstoneTTL, now):
		return verdict{reason: fmt.Sprintf("behind for longer than the broker keeps tombstones (%s)", time.Duration(b.tombstoneTTL))}
	}
	return verdict{}
}

// missedTombstones reports whether tombstones published after the replica
// last caught up may already have expired from the broker.
func missedTombstones(caughtUp, ttl int64, now time.Time) bool {
	return ttl > 0 && caughtUp > 0 && now.UnixNano()-caughtUp > ttl
}

// restartError ends a session whose position turned out to be invalid; it
// carries the verdict to the next session, which reconciles.
type restartError struct{ v verdict }

func (e *restartError) Error() string { return "position no longer valid: " + e.v.reason }

// verdictOf returns the verdict an error carries, if it is a restart.
func verdictOf(err error) (verdict, bool) {
	var re *restartError
	if errors.As(err, &re) {
		return re.v, true
	}
	return verdict{}, false
}

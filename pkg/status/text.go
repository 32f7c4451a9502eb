package status

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jetsync/jetsync/pkg/bus"
)

// StaleAfter is how long a daemon may go without reporting before its
// status is marked STALE. Daemons report every few seconds, so a stale
// entry means the daemon is down, hung or cut off from the broker.
const StaleAfter = 30 * time.Second

// WriteText renders fs for a human, ages relative to now.
func WriteText(w io.Writer, fs []FolderStatus, now time.Time) {
	if len(fs) == 0 {
		fmt.Fprintln(w, "no folders on the broker and no daemon has reported yet")
		return
	}
	for i, f := range fs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		writeFolder(w, f, now)
	}
}

func writeFolder(w io.Writer, f FolderStatus, now time.Time) {
	fmt.Fprintf(w, "folder %s\n", f.Folder)
	if f.NoStream {
		fmt.Fprintln(w, "  stream   none yet (has the source started?)")
	} else {
		s := f.Stream
		fmt.Fprintf(w, "  stream   %s messages, %s, %s subjects, last seq %d\n",
			count(s.Messages), size(s.Bytes), count(s.Subjects), s.LastSeq)
	}
	if c := f.Cache; c != nil {
		fmt.Fprintf(w, "  cache    %s chunks, %s\n", count(c.Messages), size(c.Bytes))
	}
	if f.Source == nil {
		fmt.Fprintln(w, "  source   none reported")
	} else {
		writeSource(w, f.Source, now)
	}
	if len(f.Replicas) == 0 {
		fmt.Fprintln(w, "  replica  none reported")
	}
	for _, r := range f.Replicas {
		writeReplica(w, &r, now)
	}
}

// cont indents continuation lines under the daemon's id.
const cont = "           "

func writeSource(w io.Writer, s *bus.SourceStatus, now time.Time) {
	fmt.Fprintf(w, "  source   %s: %s, %s files, %s dirs, %s, last change %s, last seq %d, updated %s%s\n",
		orUnknown(s.ID), s.State, count(s.Files), count(s.Dirs), size(s.Bytes),
		ago(s.LastChange, now), s.LastSeq, ago(s.Updated, now), stale(s.Updated, now))
	if s.PendingFiles > 0 {
		fmt.Fprintf(w, "%s%s files waiting to be published\n", cont, count(s.PendingFiles))
	}
	if s.WatchCapped {
		fmt.Fprintf(w, "%swatch capped: beyond %s dirs changes are found by the periodic scan\n", cont, count(s.Watched))
	} else {
		fmt.Fprintf(w, "%swatching %s dirs\n", cont, count(s.Watched))
	}
	writeErrors(w, s.Errors, s.LastError)
}

func writeReplica(w io.Writer, r *Replica, now time.Time) {
	lag := time.Duration(r.LagSeconds * float64(time.Second))
	state := r.State
	if r.State == StateOffline {
		state = fmt.Sprintf("offline since %s (was %s)", ago(r.OfflineSince, now), orUnknown(r.ReportedState))
	}
	fmt.Fprintf(w, "  replica  %s: %s, applied seq %d, pending %s, lag %s, updated %s%s\n",
		orUnknown(r.ID), state, r.AppliedSeq, count(r.Pending), duration(lag),
		ago(r.Updated, now), stale(r.Updated, now))
	if r.WaitingFor != "" {
		fmt.Fprintf(w, "%swaiting for the source: the content of %s is neither here nor cached\n", cont, oneLine(r.WaitingFor))
	}
	if r.Note != "" {
		fmt.Fprintf(w, "%s%s\n", cont, oneLine(r.Note))
	}
	writeVerify(w, &r.ReplicaStatus, now)
	if r.Parked > 0 {
		fmt.Fprintf(w, "%s%s that cannot be applied yet (retried with backoff):\n", cont, plural(int64(r.Parked), "stuck path"))
		for _, s := range r.Stuck {
			fmt.Fprintf(w, "%s  %s (seq %d, since %s, %s): %s\n", cont, oneLine(s.Path), s.Seq, ago(s.Since, now),
				plural(int64(s.Attempts+1), "attempt"), oneLine(s.Reason))
		}
		if more := r.Parked - len(r.Stuck); more > 0 {
			fmt.Fprintf(w, "%s  and %s more\n", cont, count(int64(more)))
		}
	}
	last := r.LastError
	if last != "" && r.LastErrorTime != 0 {
		last = "(" + ago(r.LastErrorTime, now) + ") " + oneLine(last)
	}
	writeErrors(w, r.Errors, last)
}

// writeVerify says how the replica's last scheduled verify went.
func writeVerify(w io.Writer, r *bus.ReplicaStatus, now time.Time) {
	v := r.LastVerify
	switch {
	case v == nil && r.VerifyEverySeconds > 0:
		fmt.Fprintf(w, "%sno verify yet (every %s)\n", cont, duration(time.Duration(r.VerifyEverySeconds*float64(time.Second))))
	case v == nil:
	case v.Error != "":
		fmt.Fprintf(w, "%slast verify %s failed: %s\n", cont, ago(v.Time, now), oneLine(v.Error))
	case v.Equal:
		fmt.Fprintf(w, "%slast verify %s: equal, %s files, %s, took %s\n", cont, ago(v.Time, now), count(v.Files), size(v.Bytes),
			duration(time.Duration(v.DurationSeconds*float64(time.Second))))
	default:
		repair := ""
		if v.Repairing {
			repair = "; repairing"
		}
		fmt.Fprintf(w, "%slast verify %s: DIFFERENT, %s (first: %s)%s\n", cont, ago(v.Time, now),
			plural(int64(v.Diffs), "path"), oneLine(v.First), repair)
	}
}

func writeErrors(w io.Writer, n int64, last string) {
	switch {
	case n > 0 && last != "":
		fmt.Fprintf(w, "%s%s, last: %s\n", cont, plural(n, "error"), oneLine(last))
	case n > 0:
		fmt.Fprintf(w, "%s%s\n", cont, plural(n, "error"))
	case last != "":
		fmt.Fprintf(w, "%slast error: %s\n", cont, oneLine(last))
	}
}

// stale marks a report older than StaleAfter, or one never updated.
func stale(updated int64, now time.Time) string {
	if updated == 0 || now.Sub(time.Unix(0, updated)) > StaleAfter {
		return " STALE"
	}
	return ""
}

func orUnknown(id string) string {
	if id == "" {
		return "(no id)"
	}
	return id
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

package status

import (
	"fmt"
	"time"

	"github.com/jetsync/jetsync/pkg/bus"
)

// Severity of a problem Check finds, in the exit codes of monitoring
// plugins (Nagios, Icinga, Sensu): OK 0, WARNING 1, CRITICAL 2.
type Severity int

const (
	OK       Severity = 0
	Warning  Severity = 1
	Critical Severity = 2
)

func (s Severity) String() string {
	switch s {
	case OK:
		return "OK"
	case Warning:
		return "WARNING"
	}
	return "CRITICAL"
}

// Problem is one thing Check finds wrong.
type Problem struct {
	Severity Severity `json:"severity"`
	Folder   string   `json:"folder"`
	Daemon   string   `json:"daemon"` // "source" or "replica <id>"
	Text     string   `json:"text"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s %s: %s", p.Severity, p.Folder, p.Daemon, p.Text)
}

// Check lists what needs an operator's attention in fs as of now: a
// replica or source that stopped reporting, a replica that is stuck or
// unreadable (critical), and a replica whose lag is above maxLag
// (warning; 0: no lag limit). The worst severity is the exit code of
// `jetsync status --check`.
func Check(fs []FolderStatus, maxLag time.Duration, now time.Time) ([]Problem, Severity) {
	var out []Problem
	worst := OK
	add := func(sev Severity, folder, daemon, text string, args ...any) {
		out = append(out, Problem{Severity: sev, Folder: folder, Daemon: daemon, Text: fmt.Sprintf(text, args...)})
		worst = max(worst, sev)
	}
	for _, f := range fs {
		if s := f.Source; s != nil && (s.Updated == 0 || now.Sub(time.Unix(0, s.Updated)) > StaleAfter) {
			add(Critical, f.Folder, "source", "offline, last report %s", ago(s.Updated, now))
		} else if s != nil && s.State == "cannot-publish" {
			add(Critical, f.Folder, "source", "cannot publish to the broker: %s", oneLine(s.LastError))
		}
		for _, r := range f.Replicas {
			who := "replica " + orUnknown(r.ID)
			lag := time.Duration(r.LagSeconds * float64(time.Second))
			switch r.State {
			case StateOffline:
				add(Critical, f.Folder, who, "offline since %s, %s pending, lag %s", ago(r.OfflineSince, now), count(r.Pending), duration(lag))
				continue
			case StateUnreadable:
				add(Critical, f.Folder, who, "its status report cannot be read: %s", oneLine(r.LastError))
				continue
			case StateStuck:
				first := ""
				if len(r.Stuck) > 0 {
					first = fmt.Sprintf("; first: %s: %s", oneLine(r.Stuck[0].Path), oneLine(r.Stuck[0].Reason))
				}
				add(Critical, f.Folder, who, "%s that cannot be applied%s", plural(int64(r.Parked), "path"), first)
			}
			checkVerify(add, f.Folder, who, &r.ReplicaStatus, now)
			if maxLag > 0 && lag > maxLag {
				add(Warning, f.Folder, who, "lag %s above %s (%s, %s pending)", duration(lag), duration(maxLag), r.State, count(r.Pending))
			}
		}
	}
	return out, worst
}

// checkVerify reports a scheduled verify that found differences
// (critical), failed, or is overdue (twice its interval; warnings).
func checkVerify(add func(Severity, string, string, string, ...any), folder, who string, r *bus.ReplicaStatus, now time.Time) {
	v := r.LastVerify
	if v == nil {
		return
	}
	every := time.Duration(r.VerifyEverySeconds * float64(time.Second))
	switch {
	case v.Error != "":
		add(Warning, folder, who, "last verify failed: %s", oneLine(v.Error))
	case !v.Equal:
		add(Critical, folder, who, "last verify found %s different from the published state (first: %s)",
			plural(int64(v.Diffs), "path"), oneLine(v.First))
	}
	if every > 0 && now.Sub(time.Unix(0, v.Time)) > 2*every {
		add(Warning, folder, who, "verify overdue: the last one was %s, every %s", ago(v.Time, now), duration(every))
	}
}

package status

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Replica is a replica's own report with what the broker says of it: a
// replica that stopped, crashed, is cut off or is stuck still shows its
// real lag and pending changes, growing, because they are computed from
// the stream too. State, Pending and LagSeconds are the effective values;
// ReportedState is what the replica last said.
type Replica struct {
	bus.ReplicaStatus
	ReportedState string `json:"reported_state"`
	// OfflineSince is the time of the last report (unix ns) of a replica
	// that stopped reporting (State offline); 0 otherwise.
	OfflineSince int64 `json:"offline_since,omitempty"`
	// Broker is the broker's view of the replica's position.
	Broker BrokerView `json:"broker"`
}

// BrokerView is what the stream says of a replica's position.
type BrokerView struct {
	// Pending is how many messages the stream holds after the replica's
	// applied sequence: at most the changes it has not applied (a later
	// change of a path replaces the earlier one's message).
	Pending uint64 `json:"pending"`
	// LagSeconds is the age of the oldest state record after the applied
	// sequence (0: none).
	LagSeconds float64 `json:"lag_seconds"`
}

// Replica states. The replica reports starting, reconciling, live,
// waiting-for-source and stuck; the status adds offline (no report for
// StaleAfter), catching-up (live, but changes older than CatchingUpAfter
// are not applied) and unreadable (a report that does not decode).
const (
	StateOffline    = "offline"
	StateCatchingUp = "catching-up"
	StateUnreadable = "unreadable"
	StateStuck      = "stuck"
	StateLive       = "live"
)

// CatchingUpAfter is how old the oldest change a live replica has not
// applied may be before it shows as catching-up.
const CatchingUpAfter = 10 * time.Second

// replicaView derives r's effective state from its report and from
// stream, as of now; stream is nil when the folder has no stream.
func replicaView(ctx context.Context, stream jetstream.Stream, folder string, r bus.ReplicaStatus, now time.Time) (Replica, error) {
	out := Replica{ReplicaStatus: r, ReportedState: r.State}
	if r.State == StateUnreadable {
		return out, nil
	}
	if stream != nil {
		b, err := brokerView(ctx, stream, folder, r.AppliedSeq, now)
		if err != nil {
			return out, err
		}
		out.Broker = b
	}
	offline := r.Updated == 0 || now.Sub(time.Unix(0, r.Updated)) > StaleAfter
	lag := out.Broker.LagSeconds
	if offline {
		out.State = StateOffline
		out.OfflineSince = r.Updated
		out.Pending = max(r.Pending, out.Broker.Pending)
		if r.LagSeconds > 0 && r.Updated > 0 {
			// Whatever was late then is later now.
			lag = max(lag, r.LagSeconds+now.Sub(time.Unix(0, r.Updated)).Seconds())
		}
	} else {
		lag = max(lag, r.LagSeconds)
	}
	out.LagSeconds = lag
	if out.State == StateLive && out.Pending > 0 && lag > CatchingUpAfter.Seconds() {
		out.State = StateCatchingUp
	}
	return out, nil
}

// brokerView reads, from the stream, how far behind a replica applied up
// to applied is.
func brokerView(ctx context.Context, stream jetstream.Stream, folder string, applied uint64, now time.Time) (BrokerView, error) {
	var b BrokerView
	last := stream.CachedInfo().State.LastSeq
	if last <= applied {
		return b, nil
	}
	b.Pending = last - applied
	msg, err := stream.GetMsg(ctx, applied+1, jetstream.WithGetMsgSubject(wire.StateFilter(folder)))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		b.Pending = 0 // nothing but the folder meta after the position
	case err != nil:
		return b, err
	default:
		b.LagSeconds = max(0, now.Sub(msg.Time).Seconds())
	}
	return b, nil
}

package access

import (
	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/wire"
)

// The JetStream API, the status bucket and the content service, as the
// permissions below name them.
const (
	jsAPI        = "$JS.API."
	statusStream = "KV_" + bus.StatusBucket
	statusKeys   = "$KV." + bus.StatusBucket + "."
	serviceName  = "jetsync-source" // source.ServiceName, for micro discovery
)

// Permissions returns the NATS permissions of an identity: nil for Admin
// (everything). Every subject is literal or confined to one folder, one
// replica or the identity's inbox; see docs/SECURITY.md for the matrix.
func Permissions(id Identity) *server.Permissions {
	switch id.Role {
	case Source:
		return sourcePerms(id.Folder)
	case Replica:
		return replicaPerms(id.Folder, id.ID)
	case Monitor:
		return monitorPerms()
	}
	return nil
}

// sourcePerms: publish the folder's state, meta and cache; create,
// update and read (without consumers) its two streams, purge the state
// stream (which an upgrade does) and delete the cache (which
// --content-cache 0 does); create the status bucket
// (never change it), read it (its metrics and status page show every
// replica) and write its own key; answer content requests and
// service discovery, replying only to the requests it received. It
// creates no consumer, so it cannot touch a replica's.
func sourcePerms(folder string) *server.Permissions {
	state, cache := wire.StreamName(folder), wire.CacheStreamName(folder)
	pub := []string{
		wire.StateFilter(folder), wire.MetaSubject(folder), wire.CacheFilter(folder),
		jsAPI + "STREAM.PURGE." + state, jsAPI + "STREAM.DELETE." + cache,
		jsAPI + "STREAM.CREATE." + statusStream,
		statusKeys + bus.SourceKey(folder),
	}
	pub = append(pub, readStream(statusStream)...)
	for _, s := range []string{state, cache} {
		pub = append(pub, jsAPI+"STREAM.CREATE."+s, jsAPI+"STREAM.UPDATE."+s)
		pub = append(pub, readStream(s)...)
	}
	sub := []string{InboxPrefix(SourceOf(folder)) + ".>", wire.ContentSubject(folder),
		"$SRV.*", "$SRV.*." + serviceName, "$SRV.*." + serviceName + ".*"}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: sub},
		Response:  &server.ResponsePermission{MaxMsgs: 1},
	}
}

// replicaPerms: read the folder's state stream and content cache (stream
// info and direct gets only), create, read from and delete the one
// consumer named after the replica, ask the source for content, read the
// status bucket (for its status page) and write the replica's own status
// key.
func replicaPerms(folder, replicaID string) *server.Permissions {
	state, cache := wire.StreamName(folder), wire.CacheStreamName(folder)
	cons := state + "." + bus.ReplicaConsumer(replicaID)
	pub := []string{
		jsAPI + "CONSUMER.CREATE." + cons, jsAPI + "CONSUMER.CREATE." + cons + ".>",
		jsAPI + "CONSUMER.MSG.NEXT." + cons, jsAPI + "CONSUMER.INFO." + cons, jsAPI + "CONSUMER.DELETE." + cons,
		wire.ContentSubject(folder),
		statusKeys + bus.ReplicaKey(folder, replicaID),
	}
	pub = append(pub, readStream(statusStream)...)
	pub = append(pub, readStream(state)...)
	pub = append(pub, readStream(cache)...)
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{InboxPrefix(ReplicaOf(folder, replicaID)) + ".>"}},
	}
}

// monitorPerms: list and read the information of every stream and
// consumer, read messages by direct get (the status bucket, the record a
// lagging replica waits for), and ask services for their stats. It creates
// nothing, so it cannot make the broker deliver anything anywhere.
func monitorPerms() *server.Permissions {
	pub := []string{
		jsAPI + "INFO", jsAPI + "STREAM.NAMES", jsAPI + "STREAM.LIST", jsAPI + "STREAM.INFO.*",
		jsAPI + "CONSUMER.NAMES.*", jsAPI + "CONSUMER.LIST.*", jsAPI + "CONSUMER.INFO.*.*",
		jsAPI + "DIRECT.GET.*", jsAPI + "DIRECT.GET.*.>", jsAPI + "STREAM.MSG.GET.*",
		"$SRV.PING", "$SRV.PING.>", "$SRV.INFO", "$SRV.INFO.>", "$SRV.STATS", "$SRV.STATS.>",
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{InboxPrefix(MonitorID()) + ".>"}},
	}
}

// readStream is reading a stream without a consumer: its info and its
// messages by direct get (or the API get, for a stream without direct
// gets).
func readStream(stream string) []string {
	return []string{jsAPI + "STREAM.INFO." + stream, jsAPI + "DIRECT.GET." + stream,
		jsAPI + "DIRECT.GET." + stream + ".>", jsAPI + "STREAM.MSG.GET." + stream}
}

package harness

import (
	"testing"
)

// StartBroker runs a standalone broker (`jetsync broker`) with its data
// in data, listening on addr, and waits until it accepts connections.
// extra is appended to its arguments.
func StartBroker(t testing.TB, data, addr string, extra ...string) *Proc {
	t.Helper()
	return Binary(bin(t)).StartBroker(t, data, addr, extra...)
}

// StartBroker is StartBroker with binary b.
func (b Binary) StartBroker(t testing.TB, data, addr string, extra ...string) *Proc {
	t.Helper()
	args := append([]string{"broker", "--data", data, "--listen", addr, "--log-format", "text"}, extra...)
	p := b.Start(t, "broker", args...)
	WaitListening(t, addr)
	return p
}

// StartSource runs `jetsync source` of folder at path, with its data in
// data, as the daemon called name. extra is appended to its arguments.
func StartSource(t testing.TB, name, natsURL, folder, path, data string, extra ...string) *Proc {
	t.Helper()
	return Binary(bin(t)).StartSource(t, name, natsURL, folder, path, data, extra...)
}

// StartSource is StartSource with binary b.
func (b Binary) StartSource(t testing.TB, name, natsURL, folder, path, data string, extra ...string) *Proc {
	t.Helper()
	args := append([]string{"source", "--folder", folder, "--path", path, "--data", data,
		"--nats", natsURL, "--log-format", "text"}, extra...)
	return b.Start(t, name, args...)
}

// StartReplica runs `jetsync replica` of folder into path, with its data
// in data and replica id id, as the daemon called name. extra is appended
// to its arguments.
func StartReplica(t testing.TB, name, natsURL, folder, path, data, id string, extra ...string) *Proc {
	t.Helper()
	return Binary(bin(t)).StartReplica(t, name, natsURL, folder, path, data, id, extra...)
}

// StartReplica is StartReplica with binary b.
func (b Binary) StartReplica(t testing.TB, name, natsURL, folder, path, data, id string, extra ...string) *Proc {
	t.Helper()
	args := append([]string{"replica", "--folder", folder, "--path", path, "--data", data,
		"--nats", natsURL, "--id", id, "--log-format", "text"}, extra...)
	return b.Start(t, name, args...)
}

// Trio is a broker, a source and one replica, each its own process.
type Trio struct {
	URL                     string // nats://Addr
	Addr                    string // the broker's listen address
	Folder                  string
	Src                     string // the source's tree
	Dst                     string // the replica's tree
	ReplicaData             string // the replica's data directory
	Broker, Source, Replica *Proc
}

// StartTrio starts a broker on a free address, a source of folder at src
// and a replica "r1" into a new directory; the data directories are under
// t.TempDir(). It generates nothing: src must already hold the tree.
func StartTrio(t testing.TB, folder, src string) *Trio {
	t.Helper()
	return StartTrioWith(t, folder, src, nil, nil)
}

// StartTrioWith is StartTrio with extra arguments for the source and the
// replica. The replica's data directory is ReplicaData.
func StartTrioWith(t testing.TB, folder, src string, source, replica []string) *Trio {
	t.Helper()
	dir := t.TempDir()
	tr := &Trio{Addr: FreeAddr(t), Folder: folder, Src: src, Dst: dir + "/dst", ReplicaData: dir + "/replica"}
	tr.URL = "nats://" + tr.Addr
	tr.Broker = StartBroker(t, dir+"/broker", tr.Addr)
	tr.Source = StartSource(t, "source", tr.URL, folder, src, dir+"/source", source...)
	tr.Replica = StartReplica(t, "replica", tr.URL, folder, tr.Dst, tr.ReplicaData, "r1", replica...)
	return tr
}

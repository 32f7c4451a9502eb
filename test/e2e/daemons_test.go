package e2e

import (
	"testing"
)

// startBroker runs a standalone broker on addr and waits until it accepts
// connections.
func startBroker(t testing.TB, data, addr string) *proc {
	t.Helper()
	p := startProc(t, "broker", "broker", "--data", data, "--listen", addr, "--log-format", "text")
	waitListening(t, addr)
	return p
}

func startSource(t testing.TB, name, natsURL, folder, path, data string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"source", "--folder", folder, "--path", path, "--data", data,
		"--nats", natsURL, "--log-format", "text"}, extra...)
	return startProc(t, name, args...)
}

func startReplica(t testing.TB, name, natsURL, folder, path, data, id string) *proc {
	t.Helper()
	return startProc(t, name, "replica", "--folder", folder, "--path", path, "--data", data,
		"--nats", natsURL, "--id", id, "--log-format", "text")
}

// trio is a broker, a source and one replica, each its own process.
type trio struct {
	url, addr, folder, src, dst string
	broker, source, replica     *proc
}

// startTrio generates nothing: src must already hold the tree.
func startTrio(t testing.TB, folder, src string) *trio {
	t.Helper()
	dir := t.TempDir()
	tr := &trio{addr: freeAddr(t), folder: folder, src: src, dst: dir + "/dst"}
	tr.url = "nats://" + tr.addr
	tr.broker = startBroker(t, dir+"/broker", tr.addr)
	tr.source = startSource(t, "source", tr.url, folder, src, dir+"/source")
	tr.replica = startReplica(t, "replica", tr.url, folder, tr.dst, dir+"/replica", "r1")
	return tr
}

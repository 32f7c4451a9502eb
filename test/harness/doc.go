// Package harness runs the real jetsync binary for end-to-end, chaos and
// fault tests: it builds the binary once per test binary (see Main and
// BuildBinary), starts brokers, sources and replicas as separate processes
// (Start, StartBroker, StartSource, StartReplica, StartTrio), stops, kills
// and restarts them, and waits for trees to converge (Eventually,
// Converge). Another build, such as an older release for an upgrade test
// (BuildCommit), runs through the methods of Binary.
//
// A broker started through the harness admits only the credentials in
// its store, as every jetsync broker does: the harness makes those each
// source, replica, status and verify needs there and passes them with
// --nkey (Credentials), and DialJetStream connects as the broker's
// administrator. A command given credentials flags of its own, or
// another build than Bin, gets none.
//
// Every daemon writes its stdout and stderr to a log file under
// t.TempDir(). When a test fails, the tail of every daemon's log is
// printed, and the full logs are copied to $JETSYNC_E2E_LOGS if set.
//
// Environment:
//
//	JETSYNC_E2E_BIN        use this prebuilt jetsync binary instead of building one
//	JETSYNC_E2E_LOGS       copy the daemon logs of failed tests to this directory
//	JETSYNC_E2E_LOG_LEVEL  pass --log-level with this value to every daemon
package harness

// Package netfaults runs the real jetsync binary (test/harness) through
// network and broker faults:
//
//   - TestNetworkCut: the source's and the replica's links to the broker
//     go through Proxy, which cuts them (connections closed, new ones
//     refused) or blackholes them (held, nothing forwarded) while the
//     tree changes; after each heal the replica must converge.
//   - TestClusteredBroker: a three-node JetStream cluster with an R3
//     folder stream loses its stream leader (SIGKILL) during the initial
//     sync and again during live changes.
//   - TestClusteredStatus: the node leading the status bucket is killed;
//     `jetsync status` and the daemons' reports must survive it.
//   - TestWatcherOverflow: 100,000 files appear at once, with the source
//     frozen for part of the burst, so its change notifications overflow.
//   - TestReplicaNodeKilled (only with NETFAULTS_TRIALS=N): a soak of the
//     replica's node being killed, for a race that once stalled it.
//
// Besides the harness's variables (JETSYNC_E2E_BIN, JETSYNC_E2E_LOGS,
// JETSYNC_E2E_LOG_LEVEL), NETFAULTS_KEEP_LOGS=1 keeps the daemon logs of
// passing tests too, in $JETSYNC_E2E_LOGS. A daemon still running when a
// test fails gets SIGQUIT first, so its log ends with its goroutines.
package netfaults

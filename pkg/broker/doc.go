// Package broker runs the embedded NATS JetStream server that jetsync
// replicates through.
//
// A Broker is either standalone or one node of a JetStream cluster. The
// JetStream file store lives in Config.DataDir/jetstream, next to the client
// token written by EnsureToken. Clients in the same process should connect
// with Broker.ConnectOptions, which bypasses TCP entirely; remote clients use
// Broker.ClientURL and the token.
//
// Server log output is routed to a *slog.Logger so that the broker logs like
// the rest of jetsync instead of writing to stderr on its own.
package broker

// Package broker runs the embedded NATS JetStream server that jetsync
// replicates through.
//
// A Broker is either standalone or one node of a JetStream cluster. The
// JetStream file store lives in Config.DataDir/jetstream. A broker that
// listens admits only the credentials of its store (Config.Auth, see
// package access), each with its role's permissions, and takes in
// credentials added or removed while it runs; TLS is optional and may
// require client certificates. Clients in the same process connect with
// Broker.ConnectOptions or ConnectAs, which bypass TCP entirely; remote
// clients use Broker.ClientURL and their credentials file.
//
// Server log output is routed to a *slog.Logger so that the broker logs like
// the rest of jetsync instead of writing to stderr on its own.
package broker

// Package bus connects jetsync daemons to NATS and owns the JetStream
// resources they share: one stream per folder (state records, chunks and
// the folder meta, see docs/PROTOCOL.md) and the status bucket where every
// daemon reports its progress for `jetsync status`.
package bus

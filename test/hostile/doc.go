// Package hostile is the end-to-end test of a hostile publisher: a broker,
// a source and a replica run as separate processes (the real jetsync
// binary, see test/harness), and the test itself, a NATS client with the
// broker's publish rights, sends what no source would: malformed records
// and folder metas, records whose content can never be had, decompression
// and manifest bombs, paths that try to leave the replica's root, state
// records in an order a source never leaves, floods of junk, a purge of
// the state stream.
//
// Every case is a subtest of one TestHostilePublisher sharing the trio,
// and each checks the same things around its hostile messages: a good
// change made by the real source before and after it reaches the replica,
// the replica is still running, nothing outside its root changed, and its
// peak resident memory (VmHWM in /proc/<pid>/status) stays under 100 MB.
// Then the case's own expectations: rejected or parked with a log line and
// a counter, shown by `jetsync status`, replaced by a newer state of the
// path. A case removes what it published (tombstones, purged subjects) so
// that the next one starts from a published state equal to the source's.
//
// The test reads /proc and sets resource limits on the replica: it is
// Linux only.
package hostile

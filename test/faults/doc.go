// Package faults holds fault-injection tests that run the real jetsync
// binary as separate processes (see test/harness): a broker that loses
// the tail of its stream or its whole store (with a source that republishes
// slowly, too), a replica that stays away longer than the broker keeps
// tombstones, files that change while the source reads them, and a replica
// whose disk fills up. Each test ends with an independent tree comparison
// and `jetsync verify` exit 0, and checks the daemons' metrics and logs.
//
// The disk-full test mounts a small tmpfs and so needs Linux and root; it
// skips itself otherwise.
package faults

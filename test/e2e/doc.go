// Package e2e holds end-to-end tests: they build the real jetsync binary
// once and run brokers, sources and replicas as separate processes, kill
// and restart them, and check the trees with treegen.Compare and
// `jetsync verify`. There are no mocks here; the process helpers are in
// package harness (test/harness).
package e2e

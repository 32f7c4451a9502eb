// Package jstest starts real embedded JetStream brokers for tests.
//
// Every broker is shut down by t.Cleanup and writes its server log to the
// test log at warning level and above, so the log only shows up for failing
// or verbose tests. Set JETSYNC_TEST_LOG to a slog level name ("debug",
// "info") to see more. Import it from _test.go files only.
package jstest

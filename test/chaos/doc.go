// Package chaos is the chaos loop of jetsync's fault suite: a seeded random
// workload changes a source tree (creates, overwrites, appends, truncates,
// renames of files and directories, deletes of files and trees,
// mkdir/rmdir, symlinks, chmod, touch, bursts of thousands of small files,
// files of tens of MiB) while a chaos driver, seeded from the same seed,
// kill -9's the source, the replica, the broker and combinations of them at
// random moments and restarts them. Once the workload stops and every
// daemon runs again, the replica must equal the source (an independent
// tree comparison and `jetsync verify` exit 0), hold no temp files, and no
// daemon may have died on its own.
//
// Everything the workload and the driver choose derives from the seed;
// the interleaving with the daemons and the faults depends on timing, so a
// replay repeats the same operations and faults, not the same schedule.
//
// Environment:
//
//	JETSYNC_CHAOS_SEED=N         run only seed N (replay a failure)
//	JETSYNC_CHAOS_SEEDS=K        run K random seeds (they are printed)
//	JETSYNC_CHAOS_DURATION=D     workload duration per seed (default 13s)
//	JETSYNC_SOAK=1               soak: 3m per seed unless JETSYNC_CHAOS_DURATION is set
//	JETSYNC_E2E_LOGS=DIR         keep daemon logs and the op journal of failed seeds
//	JETSYNC_E2E_LOG_LEVEL=debug  more daemon logging
//	JETSYNC_CHAOS_HOLD=1         keep a failed seed's daemons and trees until a file is removed
//
// A failed seed logs its replay command, what the workload did to the
// first differing paths (from the journal), and, when the replica did not
// converge, leaves a goroutine dump of the source and the replica in their
// logs.
//
// The process helpers are in package harness (test/harness).
package chaos

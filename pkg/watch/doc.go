// Package watch turns kernel file notifications for a directory tree into
// coalesced batches of changed paths.
//
// fsnotify only watches single directories, so a Watcher adds one watch per
// directory (never following symlinks), follows the tree as directories
// appear, disappear and move, and funnels everything through one goroutine
// that coalesces events: a batch is flushed after a quiet period (Debounce)
// or at the latest MaxDelay after its first event.
//
// Notifications are a latency optimisation, not a source of truth. Whenever
// the watcher knows it may have missed something (kernel queue overflow, a
// watch that could not be added, the watch cap, the root disappearing) it
// asks the consumer for a full rescan instead of pretending to be exact, and
// Stats reports when parts of the tree are left to the consumer's periodic
// scan.
//
// On Linux the inotify backend costs one kernel watch per directory. On the
// BSDs and macOS the kqueue backend holds one open descriptor per directory
// and per entry inside a watched directory, so MaxWatches counts those
// entries too there.
package watch

// Package source is the source daemon of one folder: it watches a
// directory tree and publishes its state to the folder's JetStream stream,
// one record per path (file, directory, symlink or tombstone) plus the
// content-addressed chunks those records reference.
//
// The flow is
//
//	watcher batches, periodic scans ─▶ control loop ─▶ workers (read, chunk)
//	                                        │               │
//	                                        └──▶ publisher (async, bounded) ─▶ acks ─▶ index
//
// One control goroutine decides what to publish by merging each directory
// listing with the local index (package index); a bounded pool of workers
// reads and chunks files; every publish is asynchronous, and a single reaper
// goroutine settles acks in publish order. A path counts as published only
// once the broker acknowledged its record, and the index, written in
// batches, remembers exactly that, so a restart over an unchanged tree
// publishes nothing.
//
// Within one batch of changes, creates and updates are acknowledged before
// any tombstone is published, and a directory's tombstone follows those of
// everything below it, so a replica can reuse the content of a renamed
// file and delete trees bottom-up.
//
// The broker may lose acknowledged messages (lazy fsync, a restored or wiped
// store, a purge or deleted messages). The source notices at start, every
// 10 s, after each reconnect and when an ack's sequence goes backwards; it
// then bumps the folder epoch, publishes the folder meta and republishes
// everything the broker lost.
package source

package source

import "sync/atomic"

// brokerView is what the source knows of the broker's copy of its folder:
// the epoch it publishes under, the stream it is in sync with, and the
// state of the folder meta there. The recovery (recover, forget, announce,
// completeMeta, refreshMeta) writes it; publishing, the cache decision,
// the broker monitor and the status read it.
type brokerView struct {
	epoch   atomic.Uint64
	created atomic.Int64 // unix ns creation time of the stream in sync with
	synced  atomic.Bool  // the broker was checked once; the monitor may compare
	// metaFresh: the folder meta on the broker matches this run's settings.
	metaFresh atomic.Bool
	// metaPartial: the folder meta says this epoch's state is not whole
	// yet; the next completed full scan says it is.
	metaPartial atomic.Bool
}

// settle records that the source is in sync with the stream created at
// created (unix ns), under epoch.
func (v *brokerView) settle(epoch uint64, created int64) {
	v.epoch.Store(epoch)
	v.created.Store(created)
	v.synced.Store(true)
}

package replica

import (
	"errors"

	"github.com/jetsync/jetsync/pkg/apply"
	"github.com/jetsync/jetsync/pkg/wire"
)

// placed is apply.Applier.Placed: the chunk locations of a file whose list
// comes in manifest blobs are recorded a blob's worth at a time once the
// file is committed, since the list is never held whole to be committed
// with the file's entry. A failure only costs later files the reuse of
// those chunks.
func (p *pipeline) placed(path string, off int64, refs []wire.ChunkRef) {
	if err := p.store.placeChunks(path, off, refs); err != nil {
		p.log.Warn("record chunk locations", "path", path, "err", err)
	}
}

// badRecord reports whether err says the record at path cannot be applied
// however often it is tried (apply.ErrBadRecord: say, manifest blobs that
// do not decode or do not add up to its size); if so, it is counted as a
// bad message, for the caller to skip it.
func (p *pipeline) badRecord(path string, err error) bool {
	if !errors.Is(err, apply.ErrBadRecord) {
		return false
	}
	p.badMessage(p.keys.StateSubject(p.folder, path), err)
	return true
}

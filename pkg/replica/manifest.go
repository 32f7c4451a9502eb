package replica

import "github.com/jetsync/jetsync/pkg/wire"

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

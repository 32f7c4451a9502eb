package wire

// PlaceChunks tells fn where in the whole file refs lie, refs being the
// content's chunks from data offset dataOff on in a file with extents ext
// (nil: a dense file, whose data offsets are file offsets). fn is called
// in order with runs of refs that lie contiguous from fileOff on: extents
// do not touch, so a run is within one extent. A chunk that spans two
// extents (a source cuts chunks at extent ends, but the format allows it)
// lies in no one place and is left out, as are chunks past the extents.
// fn must not keep refs.
func PlaceChunks(ext []Extent, dataOff int64, refs []ChunkRef, fn func(fileOff int64, refs []ChunkRef)) {
	if ext == nil {
		if len(refs) > 0 {
			fn(dataOff, refs)
		}
		return
	}
	i, start := 0, int64(0) // ext[i] holds data offsets [start, start+ext[i].Len)
	first := 0              // refs[first:k] lie contiguous from runOff to runEnd
	var runOff, runEnd int64
	flush := func(k int) {
		if k > first {
			fn(runOff, refs[first:k])
		}
		first = k
	}
	for k, c := range refs {
		for i < len(ext) && dataOff >= start+ext[i].Len {
			start += ext[i].Len
			i++
		}
		if i == len(ext) {
			flush(k)
			return
		}
		off, end := ext[i].Off+dataOff-start, dataOff+int64(c.Size)
		dataOff = end
		if end > start+ext[i].Len { // spans two extents
			flush(k)
			first = k + 1
			continue
		}
		if k > first && off != runEnd {
			flush(k)
		}
		if k == first {
			runOff = off
		}
		runEnd = off + int64(c.Size)
	}
	flush(len(refs))
}

// Package apply makes one path of a replica equal to its state record.
//
// Files are assembled chunk by chunk into a temp file, reusing content the
// replica already holds where a Local index knows of it and fetching the
// rest through Content. Every chunk taken from disk is checked against its
// hash, and the whole stream against the record's hash, before the file
// becomes visible; on any mismatch the old file stays as it was.
//
// A file whose chunk list comes in manifest blobs is applied reading the
// blobs one at a time as it is written, so that neither a long list nor a
// hostile one is ever held whole.
//
// Every error Apply returns carries the record's path in an
// *fsroot.PathError; errors wrapping ErrChunkMissing, wire.ErrCorrupt,
// wire.ErrMalformed or wire.ErrBadPath mark conditions callers may count
// and retry or skip, ErrBadRecord a record no retry can apply.
package apply

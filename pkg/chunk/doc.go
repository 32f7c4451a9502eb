// Package chunk splits content into content-defined chunks (FastCDC), so an
// edit in the middle of a big file changes only the chunks around it, and
// hashes both the chunks and the whole stream with BLAKE3.
package chunk

// Package seal encrypts what a source publishes, end to end, so that the
// broker (and whoever runs it or reads its disk) can delay replication but
// not read names, metadata or content.
//
// One secret key of 32 random bytes, kept in a file as 64 hex characters,
// is shared by the source and its replicas. Each folder gets its own keys,
// derived with HKDF-SHA256: one seals state records, the folder meta and
// status, one seals content, one makes subject tokens (keyed BLAKE3), and a
// key id, a fingerprint that tells keys apart without revealing them.
//
// Every sealed message is an envelope (see Seal) of XChaCha20-Poly1305 with
// a random nonce, bound to its subject through the additional data: the
// broker cannot move a sealed message to another subject or another folder.
// The only deterministic part is the subject tokens: a path's state subject
// must be the same at every publish (the stream keeps the latest message per
// subject), and a chunk's cache subject must be the same for equal content
// (the cache deduplicates by subject).
package seal

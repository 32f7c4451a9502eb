// Package wire defines the messages jetsync exchanges through JetStream:
// per-path state records, content chunks and chunk manifests, the subjects
// they live on, and the checks every decoder applies before anything it
// returns can touch a filesystem.
//
// Every message carries a version. Decoders reject unknown versions, bad
// paths, oversized or inconsistent payloads with errors wrapping
// ErrMalformed or ErrVersion, so a receiver can count and skip them.
// The format is documented in docs/PROTOCOL.md; keep the two in step.
package wire

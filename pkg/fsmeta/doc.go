// Package fsmeta reads and applies the metadata a NAS keeps beside a
// file's bytes: owners (numbers and names), extended attributes, POSIX
// ACLs (which Linux keeps as extended attributes), NFSv4 ACLs on FreeBSD,
// and the holes of sparse files.
//
// It is the platform layer only: it knows system calls and binary
// formats, and nothing of records, the broker or the replica. Every
// decoder here takes untrusted input (it arrives over the wire) and
// rejects what is malformed or larger than the limits it documents.
//
// Nothing follows symbolic links: owners and attributes of a link are the
// link's own.
package fsmeta

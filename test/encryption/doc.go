// Package encryption tests end-to-end encryption in one process, with a
// real embedded broker listening on TCP and the source and replicas
// connected to it through a proxy (test/netfaults) that records every
// byte: known plaintext written into the source's names and contents must
// appear neither in the broker's store files nor on the wire, while the
// replica converges and verify passes.
package encryption

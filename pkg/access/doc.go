// Package access says who may do what on the broker: the roles of jetsync's
// clients (a folder's source, a folder's replicas, monitoring, the broker's
// administrator), the NATS permissions of each (Permissions), the inbox
// prefix each must use so that replies to one client reach no other
// (InboxPrefix), and the credentials files that prove an identity (Store).
//
// The embedded broker turns the credentials in its Store into NATS users;
// deploy/nats/jetsync.conf holds the same permissions for an external NATS
// server, and ConfigEntry writes one user's entry for such a file.
package access

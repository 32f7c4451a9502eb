// Package web serves jetsync's status page: a small read-only page at /
// (HTML, CSS and JavaScript embedded in the binary, no build step, no
// CDN) showing, per folder, the source's state and each replica's state,
// lag, pending changes, throughput and recent errors, with a lag graph of
// the last hour that updates live. The page reads /api/status, which is
// what `jetsync status --json` prints plus the lag history this process
// sampled.
package web

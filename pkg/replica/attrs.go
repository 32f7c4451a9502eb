package replica

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/apply"
	"github.com/jetsync/jetsync/pkg/fsmeta"
)

// attrKinds are the values of jetsync_replica_attrs_skipped_total's kind
// label (see apply.Attrs).
var attrKinds = []string{apply.SkipOwner, apply.SkipXattr, apply.SkipACL, apply.SkipSpecial}

// attrSkips counts attributes the replica could not apply and warns once
// per kind, not once per file: a replica that is not root would otherwise
// log every file of the tree.
type attrSkips struct {
	r      *Replica
	mu     sync.Mutex
	warned map[string]bool
}

func newAttrs(r *Replica) *apply.Attrs {
	s := &attrSkips{r: r, warned: map[string]bool{}}
	return &apply.Attrs{Owners: !r.cfg.KeepOwners, Skipped: s.skipped}
}

func (s *attrSkips) skipped(kind, path string, err error) {
	s.r.metrics.attrsSkipped.WithLabelValues(kind).Inc()
	s.mu.Lock()
	first := !s.warned[kind]
	s.warned[kind] = true
	s.mu.Unlock()
	if !first {
		s.r.log.Debug("attribute not applied", "kind", kind, "path", path, "err", err)
		return
	}
	msg := "cannot apply some attributes here; counting them in jetsync_replica_attrs_skipped_total and not warning again"
	switch {
	case kind == apply.SkipOwner && errors.Is(err, fsmeta.ErrNotPermitted):
		msg = "cannot set owners (run as root or with CAP_CHOWN, or pass --owners=off); files keep this process's owner, counted in jetsync_replica_attrs_skipped_total"
	case kind == apply.SkipOwner:
		return // owners turned off on purpose: counted, nothing to warn about
	case kind == apply.SkipSpecial:
		msg = "cannot make device nodes (run as root to replicate them); counting them in jetsync_replica_attrs_skipped_total{kind=\"special\"}"
	}
	s.r.log.Warn(msg, "kind", kind, "path", path, "err", err)
}

func newAttrsSkipped(labels prometheus.Labels) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetsync_replica_attrs_skipped_total",
		Help:        "Attributes a record carries that this replica did not apply, by kind (owner, xattr, acl), and device nodes it may not make (special).",
		ConstLabels: labels}, []string{"kind"})
}

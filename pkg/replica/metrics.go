package replica

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/wire"
)

// errorKinds are the values of jetsync_replica_errors_total's kind label:
// failures to apply (no_space, permission, corrupt, malformed,
// content_gone, source_unreachable, other) and rejected input
// (bad_message, bad_content, version; bad_signature, a state record or
// folder meta the trusted source key did not sign, and replayed, a signed
// record older than what was applied of its path, are counted as
// bad_message too).
var errorKinds = []string{"no_space", "permission", "corrupt", "malformed", "content_gone", "source_unreachable",
	"other", "bad_message", "bad_content", "version", "bad_signature", "replayed"}

// contentResults are the values of jetsync_replica_content_total's result
// label.
var contentResults = []string{"cache_hit", "cache_miss", "source_ok", "source_gone", "source_unreachable",
	"source_error", "bad_content"}

type metrics struct {
	applied      *prometheus.CounterVec
	errors       *prometheus.CounterVec
	unchanged    prometheus.Counter
	fetched      prometheus.Counter
	reused       prometheus.Counter
	removedExtra prometheus.Counter
	removedTree  prometheus.Counter
	attrsSkipped *prometheus.CounterVec
	linked       prometheus.Counter
	excluded     prometheus.Counter
	cursor       prometheus.Gauge
	lag          prometheus.Gauge
	content      *prometheus.CounterVec
	parked       prometheus.Gauge
	parkedTotal  prometheus.Counter
	latency      prometheus.Histogram
	rateLimited  prometheus.Counter

	verifyTime, verifyEqual, verifyDiffs, verifyDuration prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, folder string) *metrics {
	labels := prometheus.Labels{"folder": folder}
	m := &metrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetsync_replica_applied_total",
			Help: "Records applied to disk, by type.", ConstLabels: labels}, []string{"type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetsync_replica_errors_total",
			Help: "Apply failures and rejected messages, by kind.", ConstLabels: labels}, []string{"kind"}),
		unchanged: prometheus.NewCounter(prometheus.CounterOpts{Name: "jetsync_replica_unchanged_total",
			Help: "Records skipped because the path already matched.", ConstLabels: labels}),
		fetched: prometheus.NewCounter(prometheus.CounterOpts{Name: "jetsync_replica_fetched_bytes_total",
			Help: "Content bytes fetched from the content cache or the source (counted as they arrive), and inline content of applied records.", ConstLabels: labels}),
		reused: prometheus.NewCounter(prometheus.CounterOpts{Name: "jetsync_replica_reused_bytes_total",
			Help: "Content bytes copied from local files instead of fetched.", ConstLabels: labels}),
		removedExtra: prometheus.NewCounter(prometheus.CounterOpts{Name: "jetsync_replica_removed_extra_total",
			Help: "Local paths removed by a reconcile because the source does not have them.", ConstLabels: labels}),
		removedTree: prometheus.NewCounter(prometheus.CounterOpts{Name: "jetsync_replica_removed_tree_entries_total",
			Help: "Directories removed by the source's tombstones, and the entries beneath them.", ConstLabels: labels}),
		attrsSkipped: newAttrsSkipped(labels),
		linked: prometheus.NewCounter(prometheus.CounterOpts{Name: "jetsync_replica_hardlinked_total",
			Help: "Files applied as one more name of a file already here (a hard link at the source): no content moved.", ConstLabels: labels}),
		excluded: prometheus.NewCounter(prometheus.CounterOpts{Name: "jetsync_replica_excluded_total",
			Help: "Paths the source excluded that this replica forgot, leaving them on disk.", ConstLabels: labels}),
		cursor: prometheus.NewGauge(prometheus.GaugeOpts{Name: "jetsync_replica_applied_seq",
			Help: "Stream sequence up to which everything is applied.", ConstLabels: labels}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "jetsync_replica_lag_seconds",
			Help: "Age of the oldest published change not yet applied.", ConstLabels: labels}),
		content: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jetsync_replica_content_total",
			Help: "Chunks fetched, by where from and outcome: cache_hit, cache_miss, source_ok, source_gone, source_unreachable, source_error, bad_content.", ConstLabels: labels}, []string{"result"}),
		parked: prometheus.NewGauge(prometheus.GaugeOpts{Name: "jetsync_replica_parked",
			Help: "Records set aside because they cannot be applied yet (retried with backoff; status names them).", ConstLabels: labels}),
		parkedTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "jetsync_replica_parked_total",
			Help: "Records parked since start.", ConstLabels: labels}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "jetsync_replica_latency_seconds",
			Help:        "From the source's publish of a live change to its durable apply on the replica (the machines' clocks must agree).",
			ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12)}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{Name: "jetsync_replica_rate_limited_seconds_total",
			Help: "Time content pulls waited for --max-rate before asking, summed over the pulls that waited.", ConstLabels: labels}),
		verifyTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: "jetsync_replica_verify_last_timestamp_seconds",
			Help: "When the last scheduled verify ended (unix seconds; 0: none yet).", ConstLabels: labels}),
		verifyEqual: prometheus.NewGauge(prometheus.GaugeOpts{Name: "jetsync_replica_verify_last_equal",
			Help: "1 when the last scheduled verify found the replica equal to the published state, else 0.", ConstLabels: labels}),
		verifyDiffs: prometheus.NewGauge(prometheus.GaugeOpts{Name: "jetsync_replica_verify_last_diffs",
			Help: "Paths the last scheduled verify found different (changes on their way not counted).", ConstLabels: labels}),
		verifyDuration: prometheus.NewGauge(prometheus.GaugeOpts{Name: "jetsync_replica_verify_last_duration_seconds",
			Help: "How long the last scheduled verify took.", ConstLabels: labels}),
	}
	// Every series exists from the start, at 0: a dashboard or an alert on
	// a rate sees "none yet", not "no data".
	for _, k := range errorKinds {
		m.errors.WithLabelValues(k)
	}
	for _, r := range contentResults {
		m.content.WithLabelValues(r)
	}
	for _, k := range attrKinds {
		m.attrsSkipped.WithLabelValues(k)
	}
	for _, t := range []wire.Type{wire.File, wire.Dir, wire.Symlink, wire.Deleted} {
		m.applied.WithLabelValues(string(t))
	}
	if reg != nil {
		reg.MustRegister(m.applied, m.errors, m.unchanged, m.fetched, m.reused, m.removedExtra, m.removedTree, m.attrsSkipped, m.linked, m.excluded, m.cursor, m.lag, m.content, m.parked, m.parkedTotal, m.latency, m.rateLimited,
			m.verifyTime, m.verifyEqual, m.verifyDiffs, m.verifyDuration)
	}
	return m
}

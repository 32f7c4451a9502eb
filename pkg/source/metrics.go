package source

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the source's Prometheus collectors, labelled with the folder
// so several sources can share one registry.
type metrics struct {
	records     prometheus.Counter
	bytes       prometheus.Counter
	read        prometheus.Counter
	skipped     prometheus.Counter
	sockets     prometheus.Counter
	errors      *prometheus.CounterVec
	scan        prometheus.Histogram
	lastSeq     prometheus.Gauge
	loss        *prometheus.CounterVec
	watchedDirs prometheus.GaugeFunc
	served      *prometheus.CounterVec
	servedBytes prometheus.Counter
	cacheErrors prometheus.Counter
	changing    *prometheus.CounterVec
	busy        prometheus.GaugeFunc
	rateLimited prometheus.Counter
}

func newMetrics(folder string, reg prometheus.Registerer, watched, busy func() float64) (*metrics, error) {
	labels := prometheus.Labels{"folder": folder}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "jetsync", Subsystem: "source", Name: name, Help: help, ConstLabels: labels}
	}
	m := &metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts(opts("published_records_total",
			"State records acknowledged by the broker."))),
		bytes: prometheus.NewCounter(prometheus.CounterOpts(opts("published_bytes_total",
			"Content bytes published to the broker (inline in records, and to the content cache), after compression."))),
		read: prometheus.NewCounter(prometheus.CounterOpts(opts("read_bytes_total",
			"File content bytes read to publish it: chunked, inlined or read again to confirm a changing file's version (a sparse file's holes are not read)."))),
		skipped: prometheus.NewCounter(prometheus.CounterOpts(opts("chunks_skipped_total",
			"Chunks of live changes not sent to the content cache because it has them or replicas do."))),
		sockets: prometheus.NewCounter(prometheus.CounterOpts(opts("sockets_skipped_total",
			"Sockets found by scans and not replicated (each is logged once)."))),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts(opts("errors_total",
			"Errors by kind (stat, readdir, read, unstable, publish, index, path, watch).")), []string{"kind"}),
		scan: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "jetsync", Subsystem: "source",
			Name: "scan_duration_seconds", Help: "Duration of full scans.", ConstLabels: labels,
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}),
		lastSeq: prometheus.NewGauge(prometheus.GaugeOpts(opts("last_seq",
			"Highest stream sequence acknowledged to the source."))),
		loss: prometheus.NewCounterVec(prometheus.CounterOpts(opts("broker_loss_total",
			"Detected broker data losses: kind=tail (recent messages), store (whole stream) or purged (records the stream no longer holds).")), []string{"kind"}),
		served: prometheus.NewCounterVec(prometheus.CounterOpts(opts("content_served_total",
			"Hashes asked of the content service, by answer: ok, gone (changed since published), later (did not fit the reply, or not within a second under --max-rate), bad_request, error.")), []string{"status"}),
		servedBytes: prometheus.NewCounter(prometheus.CounterOpts(opts("content_served_bytes_total",
			"Chunk payload bytes sent by the content service, after compression."))),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts(opts("rate_limited_seconds_total",
			"Time content replies waited for --max-rate, summed over the requests that waited."))),
		cacheErrors: prometheus.NewCounter(prometheus.CounterOpts(opts("cache_errors_total",
			"Chunks the content cache did not take (the content service serves them)."))),
		watchedDirs: prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("watched_dirs",
			"Directories watched for changes.")), watched),
		changing: prometheus.NewCounterVec(prometheus.CounterOpts(opts("changing_reads_total",
			"Versions published of files that were changing while read, by how they were read: replaced (renamed over since; read from the file opened), clone (from a clone of it), prefix (a file that grew: the part it had, read twice), verified (confirmed by a second read).")), []string{"how"}),
		busy: prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("changing_files",
			"Files found changing, looked at again until a settled read of them is published.")), busy),
	}
	for _, how := range []string{readReplaced, readClone, readPrefix, readVerified} {
		m.changing.WithLabelValues(how)
	}
	// Every series exists from the start, at 0: a rate or an alert sees
	// "none yet", not "no data".
	for _, k := range []string{"stat", "readdir", "read", "unstable", "publish", "index", "path", "watch", "attrs"} {
		m.errors.WithLabelValues(k)
	}
	for _, k := range []string{lossTail, lossStore, lossPurged} {
		m.loss.WithLabelValues(k)
	}
	for _, k := range []string{"ok", "gone", "later", "bad_request", "error"} {
		m.served.WithLabelValues(k)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.records, m.bytes, m.read, m.skipped, m.sockets, m.errors, m.scan, m.lastSeq, m.loss, m.watchedDirs, m.served, m.servedBytes, m.cacheErrors, m.changing, m.busy, m.rateLimited} {
		if err := reg.Register(c); err != nil {
			var dup prometheus.AlreadyRegisteredError
			if errors.As(err, &dup) {
				return nil, fmt.Errorf("register metrics: folder %s already registered", folder)
			}
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// treeCollector exports the size of the tree the source publishes, from
// its index's counters, and the records it has decided on but the broker
// has not acknowledged yet.
type treeCollector struct {
	s                           *Source
	files, dirs, bytes, records *prometheus.Desc
}

func newTreeCollector(s *Source, folder string) *treeCollector {
	labels := prometheus.Labels{"folder": folder}
	desc := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, labels) }
	return &treeCollector{s: s,
		files:   desc("jetsync_source_tree_files", "Files and symlinks in the published tree."),
		dirs:    desc("jetsync_source_tree_dirs", "Directories in the published tree."),
		bytes:   desc("jetsync_source_tree_bytes", "Bytes of the files in the published tree."),
		records: desc("jetsync_source_pending_records", "Changes decided on and not yet acknowledged by the broker.")}
}

// Describe implements prometheus.Collector.
func (c *treeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.files, c.dirs, c.bytes, c.records} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: nothing until the source has
// its index open.
func (c *treeCollector) Collect(ch chan<- prometheus.Metric) {
	ix := c.s.tree.Load()
	if ix == nil {
		return
	}
	st, err := ix.Stats()
	if err != nil {
		return
	}
	for d, v := range map[*prometheus.Desc]float64{c.files: float64(st.Files + st.Symlinks), c.dirs: float64(st.Dirs),
		c.bytes: float64(st.Bytes), c.records: float64(c.s.track.count())} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
}

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
	skipped     prometheus.Counter
	errors      *prometheus.CounterVec
	scan        prometheus.Histogram
	lastSeq     prometheus.Gauge
	loss        *prometheus.CounterVec
	watchedDirs prometheus.GaugeFunc
	purged      prometheus.Counter
}

func newMetrics(folder string, reg prometheus.Registerer, watched func() float64) (*metrics, error) {
	labels := prometheus.Labels{"folder": folder}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "jetsync", Subsystem: "source", Name: name, Help: help, ConstLabels: labels}
	}
	m := &metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts(opts("published_records_total",
			"State records acknowledged by the broker."))),
		bytes: prometheus.NewCounter(prometheus.CounterOpts(opts("published_bytes_total",
			"Chunk payload bytes sent and acknowledged, after compression."))),
		skipped: prometheus.NewCounter(prometheus.CounterOpts(opts("chunks_skipped_total",
			"Chunks not sent because the broker already has them."))),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts(opts("errors_total",
			"Errors by kind (stat, readdir, read, unstable, publish, index).")), []string{"kind"}),
		scan: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "jetsync", Subsystem: "source",
			Name: "scan_duration_seconds", Help: "Duration of full scans.", ConstLabels: labels,
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}),
		lastSeq: prometheus.NewGauge(prometheus.GaugeOpts(opts("last_seq",
			"Highest stream sequence acknowledged to the source."))),
		loss: prometheus.NewCounterVec(prometheus.CounterOpts(opts("broker_loss_total",
			"Detected broker data losses: kind=tail (recent messages) or store (whole stream).")), []string{"kind"}),
		purged: prometheus.NewCounter(prometheus.CounterOpts(opts("chunks_purged_total",
			"Chunks removed from the broker because no current file needs them."))),
		watchedDirs: prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("watched_dirs",
			"Directories watched for changes.")), watched),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.records, m.bytes, m.skipped, m.errors, m.scan, m.lastSeq, m.loss, m.watchedDirs, m.purged} {
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

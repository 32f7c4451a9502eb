package status

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports, at each scrape, what `jetsync status` says of every
// replica of a folder, from the broker's side: a replica that died, and so
// exports nothing itself, still shows with its lag and pending changes
// growing. The source registers it, so that the primary's metrics cover
// every replica.
type Collector struct {
	js     jetstream.JetStream
	folder string
}

// NewCollector returns a Collector of folder's replicas.
func NewCollector(js jetstream.JetStream, folder string) *Collector {
	return &Collector{js: js, folder: folder}
}

var (
	replicaLabels = []string{"folder", "replica"}
	descLag       = prometheus.NewDesc("jetsync_folder_replica_lag_seconds",
		"Age of the oldest change a replica has not applied, from the broker's side and its report.", replicaLabels, nil)
	descPending = prometheus.NewDesc("jetsync_folder_replica_pending",
		"Changes a replica has not applied (parked ones included; an offline replica's: at most this many).", replicaLabels, nil)
	descUp = prometheus.NewDesc("jetsync_folder_replica_up",
		"1 while a replica reports, 0 once it has been silent for 30 s (offline).", replicaLabels, nil)
	descParked = prometheus.NewDesc("jetsync_folder_replica_parked",
		"Records a replica set aside because it cannot apply them.", replicaLabels, nil)
	descState = prometheus.NewDesc("jetsync_folder_replica_state",
		"1 for a replica's current state: live, catching-up, reconciling, waiting-for-source, stuck, offline, starting, unreadable.",
		[]string{"folder", "replica", "state"}, nil)
	descCollectErr = prometheus.NewDesc("jetsync_folder_status_errors",
		"1 when the last scrape could not read the folder's status from the broker.", []string{"folder"}, nil)
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLag, descPending, descUp, descParked, descState, descCollectErr} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it asks the broker, within a
// few seconds.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	folders, err := Collect(ctx, c.js, c.folder)
	failed := 0.0
	if err != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(descCollectErr, prometheus.GaugeValue, failed, c.folder)
	for _, f := range folders {
		for _, r := range f.Replicas {
			id := orUnknown(r.ID)
			up := 1.0
			if r.State == StateOffline {
				up = 0
			}
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, r.LagSeconds, f.Folder, id)
			ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(r.Pending), f.Folder, id)
			ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, f.Folder, id)
			ch <- prometheus.MustNewConstMetric(descParked, prometheus.GaugeValue, float64(r.Parked), f.Folder, id)
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, 1, f.Folder, id, r.State)
		}
	}
}

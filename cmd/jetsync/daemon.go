package main

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// buildInfo is jetsync_build_info: 1, labelled with the version and the
// Go release that built it, for dashboards that show what runs where.
func buildInfo() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "jetsync_build_info",
		Help:        "Always 1; the labels say which jetsync build runs.",
		ConstLabels: prometheus.Labels{"version": releaseVersion(), "goversion": runtime.Version()}})
	g.Set(1)
	return g
}

package main

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// folderMetrics is the /metrics of a daemon with several folders: the
// daemon's own registry and one per running folder. A folder's series
// carry its folder label already; a registry of its own lets a reload
// drop them with the folder, or replace them when it restarts, which one
// shared registry would refuse as registered twice.
type folderMetrics struct {
	base *prometheus.Registry

	mu       sync.Mutex
	byFolder map[string]*prometheus.Registry
}

func newFolderMetrics() *folderMetrics {
	return &folderMetrics{base: prometheus.NewRegistry(), byFolder: map[string]*prometheus.Registry{}}
}

func (m *folderMetrics) set(folder string, reg *prometheus.Registry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byFolder[folder] = reg
}

// remove drops the folder's registry if it is still reg.
func (m *folderMetrics) remove(folder string, reg *prometheus.Registry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byFolder[folder] == reg {
		delete(m.byFolder, folder)
	}
}

// Gather implements prometheus.Gatherer, merging the registries.
func (m *folderMetrics) Gather() ([]*dto.MetricFamily, error) {
	m.mu.Lock()
	gs := prometheus.Gatherers{m.base}
	names := make([]string, 0, len(m.byFolder))
	for f := range m.byFolder {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		gs = append(gs, m.byFolder[f])
	}
	m.mu.Unlock()
	return gs.Gather()
}

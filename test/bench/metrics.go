package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Metric names of jetsync's Prometheus endpoint (pkg/source/metrics.go,
// pkg/replica/metrics.go).
const (
	mPublishedBytes   = "jetsync_source_published_bytes_total"
	mPublishedRecords = "jetsync_source_published_records_total"
	mFetchedBytes     = "jetsync_replica_fetched_bytes_total"
	mReusedBytes      = "jetsync_replica_reused_bytes_total"
)

// sample is one scrape: each metric name with its values summed over label
// sets (the bench runs one folder, so the sum is that folder's value).
type sample map[string]float64

var metricsClient = &http.Client{Timeout: 5 * time.Second}

// scrape reads http://addr/metrics.
func scrape(addr string) (sample, error) {
	resp, err := metricsClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the Prometheus text format: "name{labels} value".
func parseMetrics(r io.Reader) (sample, error) {
	s := sample{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if j := strings.LastIndexByte(rest, '}'); j >= 0 {
			rest = rest[j+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("parse metrics line %q: %w", line, err)
		}
		s[name] += v
	}
	return s, sc.Err()
}

// delta is after-before of one metric.
func delta(before, after sample, name string) float64 { return after[name] - before[name] }

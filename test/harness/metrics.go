package harness

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Scrape reads a daemon's Prometheus text endpoint once: series (name and
// labels, as printed) to value.
func Scrape(addr string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", addr, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if line == "" || strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// ScrapeEventually is Scrape, retried for a while: the endpoint may be a
// moment late after a start.
func ScrapeEventually(t testing.TB, addr string) map[string]float64 {
	t.Helper()
	var out map[string]float64
	Eventually(t, 30*time.Second, func() (bool, string) {
		var err error
		if out, err = Scrape(addr); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	return out
}

// Metric sums the series of name whose labels include every one of
// labels (each as printed, e.g. `result="cache_hit"`).
func Metric(series map[string]float64, name string, labels ...string) float64 {
	var sum float64
	for s, v := range series {
		base, lbls, _ := strings.Cut(s, "{")
		if base == name && !slices.ContainsFunc(labels, func(l string) bool { return !strings.Contains(lbls, l) }) {
			sum += v
		}
	}
	return sum
}

// ReadMetric scrapes addr (see ScrapeEventually) and returns Metric of it.
func ReadMetric(t testing.TB, addr, name string, labels ...string) float64 {
	t.Helper()
	return Metric(ScrapeEventually(t, addr), name, labels...)
}

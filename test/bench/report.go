package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// result is one measurement: a line for the console and a row for the
// markdown table of its part.
type result struct {
	part    string
	profile string
	line    string
	row     []string // cells after part and profile, in mdColumns[part] order
}

// mdColumns are the markdown table headers of each part, after "profile".
var mdColumns = map[string][]string{
	"initial": {"jetsync s", "jetsync peak RSS MB", "broker store MB", "jetsync CPU s", "cp -a + sync s", "cp -a alone s", "rsync -a s", "jetsync / cp+sync", "jetsync / rsync"},
	"twobox":  {"jetsync s", "source+broker peak RSS MB", "replica peak RSS MB", "published MB", "fetched MB", "loopback MB", "rsync daemon s", "rsync loopback MB", "jetsync / rsync"},
	"latency": {"files", "arrived", "p50 ms", "p90 ms", "p99 ms", "max ms", "RSS once in sync MB"},
	"burst":   {"files", "write s", "last write → all in DST s", "delete all → gone in DST s"},
	"bigmod":  {"jetsync s", "published MB", "fetched MB", "reused MB", "rsync -a s", "rsync sent MB", "rsync daemon s", "rsync daemon sent MB"},
	"restart": {"stop s", "in sync after start s", "published MB", "records", "fetched MB", "reused MB"},
}

var partOrder = []string{"initial", "twobox", "latency", "burst", "bigmod", "restart"}

// report prints results as they come and keeps them for the markdown file.
type report struct {
	mu      sync.Mutex
	w       io.Writer
	machine [][2]string
	results []result
	notes   []string
}

func (r *report) add(res result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
	fmt.Fprintln(r.w, res.line)
}

// note prints a remark that belongs with the results (a skipped part, a
// jetsync anomaly).
func (r *report) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	r.notes = append(r.notes, msg)
	fmt.Fprintln(r.w, "note: "+msg)
}

func (r *report) printMachine() {
	for _, kv := range r.machine {
		fmt.Fprintf(r.w, "# %-14s %s\n", kv[0]+":", kv[1])
	}
}

// writeMarkdown writes the machine table, one table per part and the notes.
func (r *report) writeMarkdown(path, command string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# jetsync benchmark, %s\n\n", time.Now().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Command: `%s`\n\n| item | value |\n|---|---|\n", command)
	for _, kv := range r.machine {
		fmt.Fprintf(&b, "| %s | %s |\n", kv[0], mdEscape(kv[1]))
	}
	for _, part := range partOrder {
		var rows []result
		for _, res := range r.results {
			if res.part == part {
				rows = append(rows, res)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n| profile | %s |\n|---|%s\n", part, strings.Join(mdColumns[part], " | "),
			strings.Repeat("---|", len(mdColumns[part])))
		for _, res := range rows {
			fmt.Fprintf(&b, "| %s | %s |\n", res.profile, strings.Join(res.row, " | "))
		}
	}
	if len(r.notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.notes {
			fmt.Fprintf(&b, "* %s\n", mdEscape(n))
		}
	}
	b.WriteString("\n## Lines\n\n```\n")
	for _, res := range r.results {
		b.WriteString(res.line + "\n")
	}
	b.WriteString("```\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write markdown: %w", err)
	}
	return nil
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// cell formats a number for a table; NaN and negative values are "–".
func cell(format string, v float64) string {
	if v != v || v < 0 {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

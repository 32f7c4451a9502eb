//go:build linux

package hostile

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
)

// logMark is where a daemon's log ends now: logSince reads what it
// writes after.
func logMark(p *harness.Proc) int64 {
	fi, err := os.Stat(p.LogPath())
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns what the daemon logged after mark.
func logSince(p *harness.Proc, mark int64) string {
	f, err := os.Open(p.LogPath())
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(mark, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// problemLines returns the warnings and errors in log that contain sub.
func problemLines(log, sub string) []string {
	var out []string
	for line := range strings.SplitSeq(log, "\n") {
		if (strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR")) && strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return out
}

// logfmtRE matches one key=value of slog's text format; a value with
// spaces or quotes is quoted.
var logfmtRE = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_.]*)=("(?:[^"\\]|\\.)*"|[^ ]*)`)

// fields parses a log line of slog's text format.
func fields(line string) map[string]string {
	out := map[string]string{}
	for _, m := range logfmtRE.FindAllStringSubmatch(line, -1) {
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			}
		}
		out[m[1]] = v
	}
	return out
}

// replicaStatus returns the replica id's entry in `jetsync status --json`
// for the folder, or what is wrong.
func (h *rig) replicaStatus(t *testing.T, id string) (map[string]any, string) {
	t.Helper()
	res := harness.RunCLI(t, 30*time.Second, "status", "--nats", h.url, "--folder", h.folder, "--json", "--log-format", "text")
	if res.Code != 0 {
		return nil, res.String()
	}
	var folders []struct {
		Folder   string           `json:"folder"`
		Replicas []map[string]any `json:"replicas"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &folders); err != nil {
		return nil, fmt.Sprintf("status --json does not parse: %v\n%s", err, res.Stdout)
	}
	for _, f := range folders {
		for _, r := range f.Replicas {
			if f.Folder == h.folder && r["id"] == id {
				return r, ""
			}
		}
	}
	return nil, fmt.Sprintf("replica %s of %s not in the status:\n%s", id, h.folder, res.Stdout)
}

// stuckPaths returns the paths a replica's status reports stuck (parked),
// each with its reason: under any key that names them stuck or parked,
// as a list of objects with a path and a reason, a list of paths (no
// reason), or an object from path to reason.
func stuckPaths(rep map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range rep {
		if key := strings.ToLower(k); !strings.Contains(key, "stuck") && !strings.Contains(key, "park") {
			continue
		}
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				addStuck(out, e)
			}
		case map[string]any:
			for path, reason := range v {
				out[path] = fmt.Sprint(reason)
			}
		}
	}
	return out
}

func addStuck(out map[string]string, e any) {
	switch e := e.(type) {
	case string:
		out[e] = ""
	case map[string]any:
		path, _ := e["path"].(string)
		var reasons []string
		for k, v := range e {
			if s, ok := v.(string); ok && k != "path" && s != "" {
				reasons = append(reasons, s)
			}
		}
		if path != "" {
			out[path] = strings.Join(reasons, "; ")
		}
	}
}

// mentions reports whether a key or string value anywhere in v contains
// one of words (case-insensitive).
func mentions(v any, words ...string) bool {
	has := func(s string) bool {
		s = strings.ToLower(s)
		for _, w := range words {
			if strings.Contains(s, w) {
				return true
			}
		}
		return false
	}
	switch v := v.(type) {
	case string:
		return has(v)
	case []any:
		for _, e := range v {
			if mentions(e, words...) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if has(k) && e != nil && e != "" && e != false {
				return true
			}
			if mentions(e, words...) {
				return true
			}
		}
	}
	return false
}

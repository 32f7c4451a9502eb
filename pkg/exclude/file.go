package exclude

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadFile reads the patterns of a pattern file (see ParseFile).
func ReadFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read exclude file: %w", err)
	}
	defer f.Close()
	return ParseFile(f, path)
}

// ParseFile reads patterns one a line from r: blank lines and lines
// starting with "#" are skipped, a trailing "\r" is dropped and trailing
// spaces are removed unless escaped with "\". Each pattern is checked; an
// error names the file (name) and the line.
func ParseFile(r io.Reader, name string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxPatternLen+2)
	total := 0
	for line := 1; sc.Scan(); line++ {
		p := trimLine(sc.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if err := Check(p); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if total += len(p); total > MaxTotalLen || len(out) == MaxPatterns {
			return nil, fmt.Errorf("%s:%d: too many patterns (at most %d, %d bytes)", name, line, MaxPatterns, MaxTotalLen)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s: a line is longer than %d bytes", name, MaxPatternLen)
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

// trimLine drops a trailing "\r" and the trailing spaces a "\" does not
// escape.
func trimLine(s string) string {
	s = strings.TrimSuffix(s, "\r")
	end := len(s)
	for end > 0 && s[end-1] == ' ' {
		if end >= 2 && s[end-2] == '\\' && !escapedBackslash(s[:end-2]) {
			break
		}
		end--
	}
	return s[:end]
}

// escapedBackslash reports whether a backslash that follows s is itself
// escaped: s ends in an odd number of backslashes.
func escapedBackslash(s string) bool {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '\\' {
		n++
	}
	return n%2 == 1
}

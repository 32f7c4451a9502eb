package main

import (
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[K"

// statusLine keeps one line of progress at the bottom of a terminal, below
// the log: every write of the log first erases the line, then writes, then
// draws the line again, so log lines are neither glued to it nor broken by
// it. When the output is not a terminal, writes go straight through and
// Set does nothing (progress is then logged as events instead).
type statusLine struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	width func() int // the terminal's columns, 0 when unknown
	line  string     // shown now; "" none
}

// logOutput is where every log handler writes: stderr, under the status
// line of the command's progress.
var logOutput = newStatusLine(os.Stderr)

func newStatusLine(f *os.File) *statusLine {
	return &statusLine{w: f, tty: isTerminal(f), width: func() int {
		w, _, err := term.GetSize(int(f.Fd()))
		if err != nil {
			return 0
		}
		return w
	}}
}

// Write writes p above the status line.
func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line == "" {
		return s.w.Write(p)
	}
	buf := make([]byte, 0, len(clearLine)+len(p)+1+len(s.line))
	buf = append(append(buf, clearLine...), p...)
	if len(p) > 0 && p[len(p)-1] != '\n' {
		buf = append(buf, '\n') // the line must not be drawn after a partial one
	}
	buf = append(buf, s.line...)
	if _, err := s.w.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Set shows line as the status line, or erases it (""). It does nothing
// when the output is not a terminal.
func (s *statusLine) Set(line string) {
	if !s.tty {
		return
	}
	line = fit(line, s.width())
	s.mu.Lock()
	defer s.mu.Unlock()
	if line == s.line {
		return
	}
	_, _ = io.WriteString(s.w, clearLine+line)
	s.line = line
}

// Println writes a line of its own above the status line.
func (s *statusLine) Println(line string) { _, _ = s.Write([]byte(line + "\n")) }

// fit cuts line to a terminal of width columns (one spare, so the cursor
// stays on it): a wrapped line would leave its first part behind at the
// next redraw.
func fit(line string, width int) string {
	if width <= 1 {
		return line
	}
	r := []rune(line)
	if len(r) < width {
		return line
	}
	return string(r[:width-1])
}

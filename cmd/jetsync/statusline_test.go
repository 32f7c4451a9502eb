package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// screen plays what a terminal would show of out: carriage return, line
// feed, erase to the end of the line (ESC [ K) and printable ASCII.
func screen(out string) []string {
	lines := []string{""}
	col := 0
	for i := 0; i < len(out); i++ {
		cur := &lines[len(lines)-1]
		switch {
		case out[i] == '\r':
			col = 0
		case out[i] == '\n':
			lines = append(lines, "")
			col = 0
		case strings.HasPrefix(out[i:], "\x1b[K"):
			*cur = (*cur)[:col]
			i += 2
		default:
			b := []byte(*cur)
			if col < len(b) {
				b[col] = out[i]
			} else {
				b = append(b, out[i])
			}
			*cur = string(b)
			col++
		}
	}
	return lines
}

func testLine(tty bool) (*statusLine, *bytes.Buffer) {
	var buf bytes.Buffer
	return &statusLine{w: &buf, tty: tty, width: func() int { return 0 }}, &buf
}

// TestStatusLineKeepsLogAbove: log lines written while a status line is
// shown appear above it, whole, and the status line is drawn again below
// them; a log write that does not end its line is not glued to it.
func TestStatusLineKeepsLogAbove(t *testing.T) {
	s, buf := testLine(true)
	fmt.Fprint(s, "before\n")
	s.Set("status 1")
	fmt.Fprint(s, "log one\n")
	s.Set("status 2")
	fmt.Fprint(s, "no newline")
	s.Println("in sync")
	s.Set("")
	fmt.Fprint(s, "after\n")

	want := "before\n" + "\r\x1b[Kstatus 1" + "\r\x1b[Klog one\nstatus 1" + "\r\x1b[Kstatus 2" +
		"\r\x1b[Kno newline\nstatus 2" + "\r\x1b[Kin sync\nstatus 2" + "\r\x1b[K" + "after\n"
	if got := buf.String(); got != want {
		t.Fatalf("wrote\n%q\nwant\n%q", got, want)
	}
	got := strings.Join(screen(buf.String()), "|")
	if want := "before|log one|no newline|in sync|after|"; got != want {
		t.Fatalf("screen shows %q, want %q", got, want)
	}
}

// TestStatusLineConcurrentWrites: log lines from many goroutines and
// redraws of the line in between leave every log line whole on a line of
// its own, and the status line last.
func TestStatusLineConcurrentWrites(t *testing.T) {
	s, buf := testLine(true)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				fmt.Fprintf(s, "g%d line %d\n", g, i)
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			s.Set(fmt.Sprintf("status %d", i))
		}
	})
	wg.Wait()
	s.Set("final")
	lines := screen(buf.String())
	logLine := regexp.MustCompile(`^g[0-7] line [0-9]+$`)
	seen := map[string]bool{}
	for _, l := range lines[:len(lines)-1] {
		if !logLine.MatchString(l) {
			t.Fatalf("screen line %q is not a whole log line", l)
		}
		seen[l] = true
	}
	if len(seen) != 400 || len(lines) != 401 {
		t.Fatalf("%d distinct log lines on %d screen lines, want 400 on 400 and the status line", len(seen), len(lines)-1)
	}
	if last := lines[len(lines)-1]; last != "final" {
		t.Fatalf("last line %q, want the status line", last)
	}
}

// TestStatusLineNotTerminal: elsewhere the log passes through unchanged
// and there is no status line.
func TestStatusLineNotTerminal(t *testing.T) {
	s, buf := testLine(false)
	s.Set("status")
	fmt.Fprint(s, "log\n")
	s.Println("in sync")
	s.Set("")
	if got := buf.String(); got != "log\nin sync\n" {
		t.Fatalf("wrote %q", got)
	}
}

// TestStatusLineFitsTheTerminal: a line longer than the terminal is cut,
// since a wrapped one would leave its first part behind at each redraw.
func TestStatusLineFitsTheTerminal(t *testing.T) {
	s, buf := testLine(true)
	s.width = func() int { return 10 }
	s.Set("0123456789abc")
	if got := buf.String(); got != "\r\x1b[K012345678" {
		t.Fatalf("wrote %q", got)
	}
	if got := fit("short", 10); got != "short" {
		t.Fatalf("fit cut %q", got)
	}
}

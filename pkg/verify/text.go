package verify

import (
	"fmt"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// WriteText writes the report for a human: one line per difference, then
// a summary line that starts with "equal:" or "DIFFERENT:".
func (r *Report) WriteText(w io.Writer) {
	for _, d := range r.Diffs {
		fmt.Fprintf(w, "%s %s%s\n", d.Kind, printable(d.Path), d.detail())
	}
	switch {
	case r.Equal:
		fmt.Fprintf(w, "equal: %d entries, %d files, %d bytes, at stream seq %d\n",
			r.Entries, r.Files, r.Bytes, r.StreamSeq)
	case r.Truncated:
		fmt.Fprintf(w, "DIFFERENT: more than %d differences (list truncated), at stream seq %d\n",
			len(r.Diffs), r.StreamSeq)
	default:
		fmt.Fprintf(w, "DIFFERENT: %d differences, at stream seq %d\n", len(r.Diffs), r.StreamSeq)
	}
	if r.Excluded > 0 || len(r.Exclude) > 0 {
		fmt.Fprintf(w, "excluded: %d local paths skipped (%d patterns, and .zfs at the root)\n", r.Excluded, len(r.Exclude))
	}
}

func (d Diff) detail() string {
	switch {
	case d.Want != "" && d.Got != "":
		return fmt.Sprintf(" (want %s, got %s)", printable(d.Want), printable(d.Got))
	case d.Want != "":
		return fmt.Sprintf(" (want %s)", printable(d.Want))
	case d.Got != "":
		return fmt.Sprintf(" (got %s)", printable(d.Got))
	}
	return ""
}

// printable quotes names that would garble a terminal line: invalid UTF-8
// or control characters such as a newline.
func printable(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return strconv.Quote(s)
		}
	}
	return s
}

package status

import (
	"fmt"
	"strconv"
	"time"
)

type integer interface{ ~int | ~int64 | ~uint64 }

// count writes n with thousands separators: 1,234,567.
func count[T integer](n T) string {
	s := strconv.FormatInt(int64(n), 10)
	if n < 0 {
		return "-" + group(s[1:])
	}
	return group(s)
}

func group(s string) string {
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// size writes n in binary units: 512 B, 1.5 KiB, 3.2 GiB.
func size[T integer](n T) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n), 0
	for v >= 1024 && unit < len(units)-1 {
		v /= 1024
		unit++
	}
	return fmt.Sprintf("%.1f %s", v, units[unit])
}

var units = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// duration writes d roughly, two units at most: 250ms, 4.2s, 3m12s,
// 2h05m, 3d4h.
func duration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + duration(-d)
	case d == 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// ago writes how long before now the unix-ns time t was; "never" for 0.
// Clocks of different hosts disagree, so a time in the future reads as
// "just now" rather than as a negative age.
func ago(t int64, now time.Time) string {
	if t == 0 {
		return "never"
	}
	d := now.Sub(time.Unix(0, t))
	if d < time.Second {
		return "just now"
	}
	return duration(d) + " ago"
}

// plural writes "1 error", "2 errors".
func plural[T integer](n T, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return count(n) + " " + noun + "s"
}

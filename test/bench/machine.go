package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// describeMachine lists what the numbers depend on. Every probe is best
// effort: a missing file or tool leaves its item out.
func describeMachine(jetsync, rsync, work string) [][2]string {
	var out [][2]string
	add := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	add("cpus", fmt.Sprintf("%d (%s)", runtime.NumCPU(), cpuModel()))
	add("memory", memTotal())
	add("kernel", firstLine(command("uname", "-srm")))
	add("os", osRelease())
	add("filesystem", filesystemOf(work))
	add("go (bench)", runtime.Version())
	add("jetsync", jetsyncVersion(jetsync))
	if rsync != "" {
		add("rsync", firstLine(command(rsync, "--version")))
	}
	add("cp", firstLine(command("cp", "--version")))
	add("load at start", loadAverage())
	add("page cache", map[bool]string{true: "dropped before every timed one-shot run",
		false: "not dropped (needs root on Linux); runs are warm-cache"}[canDropCaches()])
	return out
}

func command(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func cpuModel() string {
	if runtime.GOOS == "freebsd" {
		return strings.TrimSpace(command("sysctl", "-n", "hw.model"))
	}
	return procField("/proc/cpuinfo", "model name")
}

func memTotal() string {
	if runtime.GOOS == "freebsd" {
		return strings.TrimSpace(command("sysctl", "-n", "hw.physmem")) + " bytes"
	}
	return procField("/proc/meminfo", "MemTotal")
}

// procField returns the value of the first "key: value" line of file.
func procField(file, key string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func osRelease() string {
	v := procField("/etc/os-release", "PRETTY_NAME")
	if v == "" {
		b, _ := os.ReadFile("/etc/os-release")
		for _, line := range strings.Split(string(b), "\n") {
			if s, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				return strings.Trim(s, `"`)
			}
		}
	}
	return v
}

// filesystemOf finds the mount holding dir in /proc/mounts (Linux).
func filesystemOf(dir string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return ""
	}
	best, desc := "", ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, desc = mp, fmt.Sprintf("%s on %s (%s)", f[2], f[0], mp)
		}
	}
	return desc
}

// jetsyncVersion is `jetsync version` plus the commit of the checkout the
// benchmark runs in (go run ./test/bench builds from it, and so, the
// instructions say, does bin/jetsync).
func jetsyncVersion(bin string) string {
	v := firstLine(command(bin, "version"))
	dir, _ := os.Getwd()
	commit := firstLine(command("git", "-C", dir, "rev-parse", "--short", "HEAD"))
	if commit != "" {
		if strings.TrimSpace(command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no")) != "" {
			commit += " (work tree modified)"
		}
		v += ", checkout at commit " + commit
	}
	return v
}

// loadAverage is the 1, 5 and 15 minute load: other work on a shared
// machine skews every number, so the report says how busy it was.
func loadAverage() string {
	if runtime.GOOS == "freebsd" {
		return strings.Trim(strings.TrimSpace(command("sysctl", "-n", "vm.loadavg")), "{ }")
	}
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is the release, set at build time with
// -ldflags "-X main.version=v1.2.3"; otherwise the module's version.
var version = ""

func cmdVersion(context.Context, []string) error {
	fmt.Println(versionLine())
	return nil
}

// versionLine says which jetsync this is: its version, the commit it was
// built from and whether the checkout had changes, and the Go release.
func versionLine() string {
	var details []string
	if info, ok := debug.ReadBuildInfo(); ok {
		details = buildDetails(info.Settings)
	}
	details = append(details, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return "jetsync " + releaseVersion() + " (" + strings.Join(details, ", ") + ")"
}

// releaseVersion is the version alone: the one set at build time, else
// the module's (a pseudo-version when built from a checkout), else "dev".
func releaseVersion() string {
	v := version
	if info, ok := debug.ReadBuildInfo(); ok && v == "" {
		v = info.Main.Version
	}
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	return v
}

func buildDetails(settings []debug.BuildSetting) []string {
	var commit, when string
	modified := false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if commit == "" {
		return nil
	}
	if len(commit) > 12 {
		commit = commit[:12]
	}
	out := "commit " + commit
	if modified {
		out += " with local changes"
	}
	if when != "" {
		out += " of " + when
	}
	return []string{out}
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// errHelpShown ends a command whose help was asked for (exit status 0).
var errHelpShown = errors.New("help shown")

// helpOut is where help goes: standard output, as asked for.
var helpOut io.Writer = os.Stdout

// helpWidth is where help text is wrapped.
const helpWidth = 80

func writeUsage(w io.Writer) {
	fmt.Fprint(w, `jetsync replicates a directory tree one way, continuously, through a NATS
JetStream broker: a source publishes every change, each replica applies them.

Usage:
  jetsync COMMAND [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'jetsync help COMMAND' or 'jetsync COMMAND --help' for a command's flags,
'jetsync --version' for the version. Documentation: README.md and docs/.
`)
}

// writeCommandHelp prints a command's synopsis, its flags grouped, and
// its examples.
func writeCommandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprint(w, "Usage:\n")
	for _, form := range strings.Split(c.synopsis, "\n") {
		fmt.Fprintf(w, "  jetsync %s\n", form)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%s\n", wrap(strings.ToUpper(c.summary[:1])+c.summary[1:]+".", helpWidth, ""))
	for _, g := range flagGroups(fs) {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, f := range g.flags {
			writeFlag(w, f)
		}
	}
	if len(c.examples) > 0 {
		fmt.Fprint(w, "\nExamples:\n")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// groupOf files the flags shared by several commands under one heading;
// the rest are the command's own options.
var groupOf = map[string]string{
	"folder": groupFolder, "path": groupFolder, "data": groupFolder, "id": groupFolder, "config": groupFolder,
	"nats": groupConn, "nkey": groupConn, "creds": groupConn, "user": groupConn,
	"password-file": groupConn, "token-file": groupConn,
	"tls-ca": groupConn, "tls-cert": groupConn, "tls-key": groupConn,
	"listen": groupBroker, "insecure": groupBroker, "sync-always": groupBroker,
	"server-name": groupBroker, "cluster": groupBroker, "cluster-listen": groupBroker,
	"routes": groupBroker, "tls-verify": groupBroker,
	"exclude": groupFilter, "exclude-from": groupFilter,
	"log-level": groupOps, "log-format": groupOps, "http": groupOps, "metrics": groupOps,
	"memory-limit": groupOps,
}

const (
	groupFolder  = "Folder"
	groupOptions = "Options"
	groupFilter  = "What to leave out"
	groupConn    = "Broker connection"
	groupBroker  = "Embedded broker"
	groupOps     = "Logging and monitoring"
)

var groupOrder = []string{groupFolder, groupOptions, groupFilter, groupConn, groupBroker, groupOps}

type flagGroup struct {
	title string
	flags []*flag.Flag
}

func flagGroups(fs *flag.FlagSet) []flagGroup {
	by := map[string][]*flag.Flag{}
	fs.VisitAll(func(f *flag.Flag) {
		if hidden[f.Name] {
			return
		}
		g := groupOf[f.Name]
		if g == "" {
			g = groupOptions
		}
		by[g] = append(by[g], f)
	})
	var out []flagGroup
	for _, g := range groupOrder {
		if len(by[g]) > 0 {
			out = append(out, flagGroup{g, by[g]})
		}
	}
	return out
}

// hidden flags are accepted but no longer shown: they do nothing, and
// exist so that old service files still start.
var hidden = map[string]bool{"gc-interval": true}

// placeholders name the value of common flags in help.
var placeholders = map[string]string{
	"data": "DIR", "path": "DIR", "dir": "DIR", "folder": "NAME", "nats": "URL", "id": "ID",
	"listen": "ADDR", "http": "ADDR", "metrics": "ADDR", "cluster-listen": "ADDR",
	"config": "FILE", "nkey": "FILE", "encryption-key-file": "FILE", "creds": "FILE", "token-file": "FILE", "password-file": "FILE",
	"tls-ca": "FILE", "tls-cert": "FILE", "tls-key": "FILE", "user": "USER",
	"log-level": "LEVEL", "log-format": "FORMAT", "memory-limit": "SIZE",
	"cluster": "NAME", "server-name": "NAME", "replica": "ID", "routes": "URLS", "source-key": "KEY",
	"compress": "ALGORITHM", "content-cache": "SIZE", "verify-max-rate": "SIZE", "max-rate": "SIZE",
	"ignore": "PARTS", "owners": "on|off",
}

func writeFlag(w io.Writer, f *flag.Flag) {
	name, usage := flag.UnquoteUsage(f)
	if p := placeholders[f.Name]; p != "" {
		name = p
	} else {
		name = typePlaceholder(name)
	}
	left := "  --" + f.Name
	if name != "" {
		left += " " + name
	}
	if def := f.DefValue; !isZeroDefault(def) {
		usage += fmt.Sprintf(" (default %s)", quoteDefault(def))
	}
	const col = 30
	indent := strings.Repeat(" ", col)
	if len(left) >= col-1 {
		fmt.Fprintf(w, "%s\n%s\n", left, wrap(usage, helpWidth, indent))
		return
	}
	text := wrap(usage, helpWidth, indent)
	fmt.Fprintf(w, "%-*s%s\n", col, left, text[col:])
}

func typePlaceholder(t string) string {
	switch t {
	case "":
		return ""
	case "duration":
		return "DURATION"
	case "int", "uint", "int64", "uint64":
		return "N"
	case "string", "value":
		return "VALUE"
	}
	return strings.ToUpper(t)
}

func isZeroDefault(def string) bool {
	switch def {
	case "", "0", "false", "0s":
		return true
	}
	return false
}

func quoteDefault(def string) string {
	if strings.ContainsAny(def, " ,") {
		return fmt.Sprintf("%q", def)
	}
	return def
}

// wrap fills text to width, every line starting with indent (the first
// one included).
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line)
	return b.String()
}

// flagNameRE finds the flag in the flag package's error messages, which
// name it with one dash.
var flagNameRE = regexp.MustCompile(`(^|\s)-{1,2}([A-Za-z0-9][A-Za-z0-9_-]*)`)

// flagError rewords the flag package's parse errors in the --flag form
// the help uses, and says where to look.
func flagError(cmd string, err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "flag provided but not defined: "):
		msg = "unknown flag " + strings.TrimPrefix(msg, "flag provided but not defined: ")
	case strings.HasPrefix(msg, "flag needs an argument: "):
		msg = "flag " + strings.TrimPrefix(msg, "flag needs an argument: ") + " needs a value"
	}
	msg = flagNameRE.ReplaceAllString(msg, "$1--$2")
	return usagef("%s (see 'jetsync %s --help')", msg, cmd)
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/term"

	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/wire"
)

// usageError marks bad command-line input (exit status 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// parse parses flags that may appear before, between or after positional
// arguments ("jetsync run SRC DST --data DIR"), returning the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stderr)
				fs.Usage()
				os.Exit(0)
			}
			return nil, usageError{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// logFlags are shared by every command.
type logFlags struct{ level, format string }

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", "auto", "text, json, or auto (text on a terminal, JSON otherwise)")
}

func (l *logFlags) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, usagef("--log-level: %v", err)
	}
	return l.loggerAt(level)
}

// quietLogger is the logger for a component whose routine notices would
// drown the output of an interactive command: at least warnings only.
func (l *logFlags) quietLogger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, usagef("--log-level: %v", err)
	}
	return l.loggerAt(max(level, slog.LevelWarn))
}

func (l *logFlags) loggerAt(level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "auto":
		if isTerminal(os.Stderr) {
			return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, usagef("--log-format must be text, json or auto, not %q", l.format)
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// connFlags say how a client reaches the broker.
type connFlags struct{ url, tokenFile, creds string }

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "nats", "", "broker URL, e.g. nats://primary:4222 (several: comma-separated)")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding the broker's auth token (printed by the source or broker on first start)")
	fs.StringVar(&c.creds, "creds", "", "NATS credentials file (NKey/JWT), for brokers that use them")
}

func (c *connFlags) token() (string, error) {
	if c.tokenFile == "" {
		return "", nil
	}
	return broker.ReadTokenFile(c.tokenFile)
}

func required(name, v string) error {
	if v == "" {
		return usagef("--%s is required", name)
	}
	return nil
}

// folderFlags name a folder and where its tree and state live.
type folderFlags struct{ folder, path, data string }

func (f *folderFlags) register(fs *flag.FlagSet, pathHelp, dataHelp string) {
	fs.StringVar(&f.folder, "folder", "", "folder name shared by source and replicas ([A-Za-z0-9_-], up to 64)")
	fs.StringVar(&f.path, "path", "", pathHelp)
	fs.StringVar(&f.data, "data", "", dataHelp)
}

// check validates the flags and returns the tree's absolute path.
func (f *folderFlags) check() (string, error) {
	for _, kv := range [][2]string{{"folder", f.folder}, {"path", f.path}, {"data", f.data}} {
		if err := required(kv[0], kv[1]); err != nil {
			return "", err
		}
	}
	if err := wire.ValidFolder(f.folder); err != nil {
		return "", usageError{err}
	}
	return filepath.Abs(f.path)
}

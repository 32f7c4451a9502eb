package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/term"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/bus"
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
				writeCommandHelp(helpOut, lookup(fs.Name()), fs)
				return nil, errHelpShown
			}
			return nil, flagError(fs.Name(), err)
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

func (l *logFlags) register(fs *flag.FlagSet) { l.registerAt(fs, "info") }

// registerOneShot is register for commands that print an answer
// (status, verify): their log says only what went wrong unless asked.
func (l *logFlags) registerOneShot(fs *flag.FlagSet) { l.registerAt(fs, "warn") }

func (l *logFlags) registerAt(fs *flag.FlagSet, level string) {
	fs.StringVar(&l.level, "log-level", level, "debug, info, warn or error")
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
	format := l.format
	if format == "auto" {
		format = "text"
		if !isTerminal(os.Stderr) {
			format = "json"
		}
	}
	switch format {
	case "text":
		return slog.New(newUniqueKeys(slog.NewTextHandler(logOutput, &slog.HandlerOptions{Level: level}))), nil
	case "json":
		opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationSeconds}
		return slog.New(newUniqueKeys(slog.NewJSONHandler(logOutput, opts))), nil
	}
	return nil, usagef("--log-format must be text, json or auto, not %q", l.format)
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// connFlags say how a client reaches the broker and who it is there.
type connFlags struct {
	url, tokenFile, creds, nkey, user, passwordFile string
	tls                                             tlsFlags
}

func (c *connFlags) register(fs *flag.FlagSet) {
	c.registerNoTLS(fs)
	c.tls.register(fs, "client")
}

// registerNoTLS registers all but the --tls-* flags.
func (c *connFlags) registerNoTLS(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "nats", "", "broker URL, e.g. nats://primary:4222 or tls://primary:4222 (several: comma-separated)")
	fs.StringVar(&c.nkey, "nkey", "", "credentials file made by `jetsync credentials` (or any NKey user seed file)")
	fs.StringVar(&c.creds, "creds", "", "NATS credentials file (user JWT and NKey seed), for brokers that use them")
	fs.StringVar(&c.user, "user", "", "user name, for brokers with user/password authentication (with --password-file)")
	fs.StringVar(&c.passwordFile, "password-file", "", "file holding the password of --user")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding an auth token, for external brokers that use one")
}

// tlsFlags are the PEM files of a TLS configuration: a client's (the CA
// that signs the broker's certificate, its own certificate) or an
// embedded broker's (its certificate, the CA of client certificates).
type tlsFlags struct{ ca, cert, key string }

func (t *tlsFlags) register(fs *flag.FlagSet, side string) {
	switch side {
	case "client":
		fs.StringVar(&t.ca, "tls-ca", "", "CA certificate (PEM) the broker's certificate must chain to; refuses a broker without TLS")
		fs.StringVar(&t.cert, "tls-cert", "", "client certificate (PEM), for a broker that asks for one")
		fs.StringVar(&t.key, "tls-key", "", "key of --tls-cert (PEM)")
	case "broker":
		fs.StringVar(&t.ca, "tls-ca", "", "CA certificate (PEM) of client certificates (see --tls-verify)")
		fs.StringVar(&t.cert, "tls-cert", "", "the embedded broker's TLS certificate (PEM): clients must then use TLS")
		fs.StringVar(&t.key, "tls-key", "", "key of --tls-cert (PEM)")
	default: // both: source, whose --tls-* apply to its broker with --listen, to its client with --nats
		fs.StringVar(&t.ca, "tls-ca", "", "with --nats: CA certificate (PEM) the broker's certificate must chain to; with --listen: CA of client certificates")
		fs.StringVar(&t.cert, "tls-cert", "", "with --nats: client certificate (PEM); with --listen: the embedded broker's TLS certificate")
		fs.StringVar(&t.key, "tls-key", "", "key of --tls-cert (PEM)")
	}
}

// connect dials the broker as the command's identity: def, unless the
// credentials file names another (see identity). A daemon keeps trying
// while the broker is unreachable or refuses it; a command fails at once.
func (c *connFlags) connect(name string, def access.Identity, daemon bool, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if c.url == "" {
		return nil, nil, usagef("--nats is required")
	}
	opts, err := c.options(name, def, log)
	if err != nil {
		return nil, nil, err
	}
	opts.KeepTrying = daemon
	nc, js, err := bus.Connect(opts)
	if err != nil {
		return nil, nil, c.explain(err)
	}
	return nc, js, nil
}

// explain turns a refused or failed connection into what to do about it,
// naming the credentials the broker refused.
func (c *connFlags) explain(err error) error {
	switch {
	case errors.Is(err, nats.ErrAuthorization):
		return fmt.Errorf("authorization violation: %s", c.refused())
	case errors.Is(err, nats.ErrNoServers):
		return fmt.Errorf("broker unreachable at %s: is it running, and is the address right? (%w)", c.url, err)
	}
	return err
}

func (c *connFlags) refused() string {
	switch {
	case c.nkey != "":
		return "the broker refused the credentials in " + c.nkey +
			" (made for another broker, or revoked: make new ones with `jetsync credentials` where the broker runs)"
	case c.creds != "":
		return "the broker refused the credentials in " + c.creds
	case c.tokenFile != "":
		return "the broker refused the token in " + c.tokenFile
	case c.user != "":
		return "the broker refused user " + c.user + " with the password in " + c.passwordFile
	}
	return "the broker requires credentials: give --nkey FILE (made with `jetsync credentials` where the broker runs; " +
		"for status, DATA/auth/monitor.nk)"
}

func (c *connFlags) options(name string, def access.Identity, log *slog.Logger) (bus.ConnectOptions, error) {
	o := bus.ConnectOptions{URL: c.url, Creds: c.creds, NKey: c.nkey, User: c.user, Name: name, Logger: log,
		TLS: bus.TLSFiles{CA: c.tls.ca, Cert: c.tls.cert, Key: c.tls.key}, Refused: c.refused()}
	var err error
	if c.tokenFile != "" {
		if o.Token, err = readSecret(c.tokenFile); err != nil {
			return o, err
		}
	}
	if c.passwordFile != "" {
		if o.Password, err = readSecret(c.passwordFile); err != nil {
			return o, err
		}
	}
	id, err := c.identity()
	if err != nil {
		return o, err
	}
	if id.Role == "" {
		id = def
	}
	o.InboxPrefix = access.InboxPrefix(id)
	return o, nil
}

// identity is the identity --nkey names, if it is a jetsync credentials
// file; the zero Identity otherwise.
func (c *connFlags) identity() (access.Identity, error) {
	if c.nkey == "" {
		return access.Identity{}, nil
	}
	cr, err := access.ReadCredentials(c.nkey)
	if err != nil {
		return access.Identity{}, err
	}
	return cr.Identity, nil
}

// checkIdentity refuses jetsync credentials made for another identity
// than want (the administrator's go anywhere), with a clearer message
// than the broker's permission errors.
func checkIdentity(c *connFlags, want access.Identity) error {
	got, err := c.identity()
	if err != nil || got.Role == "" || got.Role == access.Admin || got.Name() == want.Name() {
		return err
	}
	return usagef("--nkey %s holds the credentials of %s, not of %s", c.nkey, got.Name(), want.Name())
}

// readSecret reads a token or password file. Surrounding whitespace is
// ignored so hand-edited files work; an empty secret is an error because
// it would silently mean "no credentials".
func readSecret(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	secret := strings.TrimSpace(string(data))
	if secret == "" {
		return "", fmt.Errorf("read secret %s: the file is empty", path)
	}
	return secret, nil
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

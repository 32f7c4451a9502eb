// Command jetsync replicates a directory tree one-way, continuously, through
// a NATS JetStream broker. See README.md for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name     string
	synopsis string // after "jetsync ", one line per form
	summary  string // one line, lower case, no full stop
	examples []string
	run      func(ctx context.Context, args []string) error
}

// commands is filled by init: the commands' help looks it up.
var commands []command

func init() { commands = commandTable() }

func commandTable() []command {
	return []command{
		{"run", "run SRC DST [flags]", "replicate SRC into DST on this host (broker and both ends in one)",
			[]string{"jetsync run /tmp/demo-src /tmp/demo-dst --data /tmp/demo-state",
				"jetsync run /tmp/demo-src /tmp/demo-dst --data /tmp/demo-state --once",
				"jetsync run /tmp/demo-src /tmp/demo-dst --data /tmp/demo-state --listen 4222"}, cmdRun},
		{"source", "source --folder NAME --path DIR --data DIR (--listen ADDR | --nats URL) [flags]\nsource --config FILE [flags]",
			"publish every change of a folder (with --listen, run the broker)",
			[]string{"jetsync source --folder photos --path /mnt/tank/photos --data /var/db/jetsync --listen 0.0.0.0:4222",
				"jetsync source --config /etc/jetsync/source.toml   (several folders: docs/CONFIG.md)"}, cmdSource},
		{"replica", "replica --folder NAME --path DIR --data DIR --nats URL --nkey FILE [flags]\nreplica --config FILE [flags]",
			"apply a folder's changes to a local tree",
			[]string{"jetsync replica --folder photos --path /mnt/tank/photos --data /var/db/jetsync --nats nats://primary:4222 --nkey /etc/jetsync/nas2.nk",
				"jetsync replica --config /etc/jetsync/replica.toml   (several folders: docs/CONFIG.md)"}, cmdReplica},
		{"broker", "broker --data DIR [--listen ADDR] [flags]", "run a standalone broker for daemons that connect with --nats",
			[]string{"jetsync broker --data /var/db/jetsync-broker --listen 0.0.0.0:4222 --http 127.0.0.1:8222"}, cmdBroker},
		{"status", "status --nats URL --nkey FILE [--folder NAME] [flags]", "show each folder's source and replicas: state, lag, errors",
			[]string{"jetsync status --nats nats://127.0.0.1:4222 --nkey /var/db/jetsync/auth/monitor.nk",
				"jetsync status --nats nats://127.0.0.1:4222 --nkey /var/db/jetsync/auth/monitor.nk --check --max-lag 15m"}, cmdStatus},
		{"verify", "verify --nats URL --nkey FILE --folder NAME --path DIR [flags]",
			"compare a tree with the published state (exit 0 equal, 1 not)",
			[]string{"jetsync verify --nats nats://primary:4222 --nkey /etc/jetsync/nas2.nk --folder photos --path /mnt/tank/photos"}, cmdVerify},
		{"repair", "repair --nats URL --nkey FILE --folder NAME --path DIR --data DIR [flags]",
			"fix what verify finds, with the replica stopped",
			[]string{"jetsync repair --nats nats://primary:4222 --nkey /etc/jetsync/nas2.nk --folder photos --path /mnt/tank/photos --data /var/db/jetsync"}, cmdRepair},
		{"keygen", "keygen FILE", "make a key for --encryption-key-file (end-to-end encryption)",
			[]string{"jetsync keygen /etc/jetsync/photos.key"}, cmdKeygen},
		{"credentials", "credentials (--data DIR | --dir DIR) (--folder NAME (--replica ID | --source) | --monitor | --admin) [flags]",
			"make, list or revoke the credentials a broker admits",
			[]string{"jetsync credentials --data /var/db/jetsync --folder photos --replica nas2",
				"jetsync credentials --data /var/db/jetsync --list"}, cmdCredentials},
		{"version", "version", "print the version", nil, cmdVersion},
		{"help", "help [COMMAND]", "show help for jetsync or a command", nil, cmdHelp},
	}
}

func main() {
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	if len(args) == 0 {
		writeUsage(os.Stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		args[0] = "help"
	case "-version", "--version", "-V":
		args[0] = "version"
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(os.Stderr, "jetsync: unknown command %q (see 'jetsync --help')\n", args[0])
		return 2
	}
	stopPprof, err := startPprof()
	if err != nil {
		return exitCode(c.name, err)
	}
	defer stopPprof()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	finished := make(chan struct{})
	go watchStop(ctx, finished, stop, stopGrace, os.Stderr, os.Exit)
	err = c.run(ctx, args[1:])
	close(finished)
	stop()
	return exitCode(c.name, err)
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func cmdHelp(ctx context.Context, args []string) error {
	if len(args) == 0 {
		writeUsage(helpOut)
		return nil
	}
	c := lookup(args[0])
	if c == nil {
		return usagef("unknown command %q (see 'jetsync --help')", args[0])
	}
	if c.name == "help" || c.name == "version" {
		fmt.Fprintf(helpOut, "Usage:\n  jetsync %s\n\n%s.\n", c.synopsis, c.summary)
		return nil
	}
	return c.run(ctx, []string{"--help"})
}

// errDiffers makes verify exit 1 without printing an error line.
var errDiffers = errors.New("differences found")

func exitCode(name string, err error) int {
	var ue usageError
	var cr checkResult
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return 0
	case errors.Is(err, errDiffers):
		return 1
	case errors.As(err, &cr):
		return int(cr.code)
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "jetsync %s: %v\n", name, err)
		return 2
	default:
		fmt.Fprintf(os.Stderr, "jetsync %s: %v\n", name, err)
		return 1
	}
}

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

var version = "dev"

type command struct {
	name, usage string
	run         func(ctx context.Context, args []string) error
}

var commands = []command{
	{"run", "run SRC DST [--data DIR] [--once]          replicate SRC into DST on this host (embedded broker)", cmdRun},
	{"source", "source --folder F --path DIR --data DIR (--nats URL | --listen ADDR)   publish a tree", cmdSource},
	{"replica", "replica --folder F --path DIR --data DIR --nats URL                  apply a folder", cmdReplica},
	{"broker", "broker --data DIR [--listen ADDR] [--http ADDR]                      standalone embedded broker", cmdBroker},
	{"status", "status --nats URL [--folder F] [--json]                              show folders, lag and errors", cmdStatus},
	{"verify", "verify --nats URL --folder F --path DIR [--json]                     compare DIR with the published state", cmdVerify},
	{"repair", "repair --nats URL --folder F --path DIR --data DIR [--json]         fix what verify finds (replica stopped)", cmdRepair},
	{"credentials", "credentials --data DIR (--folder F --replica ID | --folder F --source | --monitor)   make a client's credentials", cmdCredentials},
	{"version", "version", func(context.Context, []string) error { fmt.Println("jetsync", version); return nil }},
}

func main() {
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		return 2
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
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
	fmt.Fprintf(os.Stderr, "jetsync: unknown command %q\n\n", args[0])
	usage()
	return 2
}

// errDiffers makes verify exit 1 without printing an error line.
var errDiffers = errors.New("differences found")

func exitCode(name string, err error) int {
	var ue usageError
	var cr checkResult
	switch {
	case err == nil:
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

func usage() {
	fmt.Fprintln(os.Stderr, "usage: jetsync COMMAND [flags]   (jetsync COMMAND -h for its flags)")
	fmt.Fprintln(os.Stderr)
	for _, c := range commands {
		fmt.Fprintln(os.Stderr, "  jetsync "+c.usage)
	}
}

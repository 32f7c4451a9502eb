package main

import (
	"context"
	"fmt"
	"io"
	"runtime/pprof"
	"time"
)

// stopGrace bounds how long a command may take to stop after SIGINT or
// SIGTERM. A daemon normally stops in well under a second: it commits what
// it applied, waits for the acks in flight and shuts the embedded broker
// down. Past the grace something is stuck (a broker store that does not
// release its lock, a file system that does not answer); the process then
// exits anyway. That is a crash as far as the data is concerned, which
// every part is built to survive: nothing acknowledged is lost, and the
// next start resumes from the last commit.
const stopGrace = 30 * time.Second

// watchStop runs for the life of a command. Once ctx is done (a signal),
// it calls restore, which gives SIGINT and SIGTERM back their default
// action so that a second signal ends the process at once; if the command
// has not finished grace later, it writes why it gives up and the
// goroutines' stacks to w and calls exit(1). It returns when finished is
// closed.
func watchStop(ctx context.Context, finished <-chan struct{}, restore func(), grace time.Duration, w io.Writer, exit func(int)) {
	select {
	case <-finished:
		return
	case <-ctx.Done():
	}
	restore()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		fmt.Fprintf(w, "jetsync: not stopped %s after the signal; exiting without a clean stop "+
			"(nothing acknowledged is lost; the next start resumes from the last commit). Goroutines:\n", grace)
		_ = pprof.Lookup("goroutine").WriteTo(w, 2)
		exit(1)
	}
}

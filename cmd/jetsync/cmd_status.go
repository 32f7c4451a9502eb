package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/status"
)

// checkResult makes `status --check` exit with a monitoring plugin's
// code (1 warning, 2 critical) after printing its problems.
type checkResult struct{ code status.Severity }

func (c checkResult) Error() string { return c.code.String() }

func cmdStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var lf logFlags
	var cf connFlags
	folder := fs.String("folder", "", "only this folder (default: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	check := fs.Bool("check", false, "print only problems and exit 0 (OK), 1 (a replica's lag above --max-lag) or 2 (a daemon offline, a replica stuck); 3 when the broker cannot be asked")
	maxLag := fs.Duration("max-lag", 15*time.Minute, "with --check: the lag above which a replica is reported (0: none)")
	watch := fs.Duration("watch", 0, "print the status again at this interval until interrupted (e.g. 2s)")
	var ef encryptionFlag
	ef.register(fs, "show the paths and errors that the daemons of folders encrypted with this key report sealed")
	lf.registerOneShot(fs)
	cf.register(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	enc, err := ef.key()
	if err != nil {
		return err
	}
	nc, js, err := cf.connect("jetsync status", access.MonitorID(), false, log)
	if err != nil {
		return unknownIf(*check, err)
	}
	defer nc.Close()
	show := func() error {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		folders, err := status.Collect(cctx, js, *folder)
		if err != nil {
			return unknownIf(*check, err)
		}
		status.Unseal(folders, enc)
		if *check {
			return printCheck(os.Stdout, folders, *maxLag, *asJSON)
		}
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(folders)
		}
		status.WriteText(os.Stdout, folders, time.Now())
		return nil
	}
	if *watch <= 0 {
		return show()
	}
	t := time.NewTicker(*watch)
	defer t.Stop()
	for {
		if isTerminal(os.Stdout) && !*asJSON {
			fmt.Print("\x1b[H\x1b[2J") // home and clear: redraw in place
		}
		if err := show(); err != nil {
			if _, ok := err.(checkResult); !ok {
				fmt.Fprintln(os.Stderr, "jetsync status:", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !isTerminal(os.Stdout) && !*asJSON {
			fmt.Println()
		}
	}
}

// printCheck prints the problems, one per line (or as JSON), and returns
// the worst severity as the exit code.
func printCheck(w io.Writer, folders []status.FolderStatus, maxLag time.Duration, asJSON bool) error {
	problems, worst := status.Check(folders, maxLag, time.Now())
	if asJSON {
		out := struct {
			Status   string           `json:"status"`
			Problems []status.Problem `json:"problems"`
		}{worst.String(), problems}
		if out.Problems == nil {
			out.Problems = []status.Problem{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		if worst == status.OK {
			fmt.Fprintf(w, "OK: %d folders, every daemon reporting, no replica stuck or behind\n", len(folders))
		}
		for _, p := range problems {
			fmt.Fprintln(w, p)
		}
	}
	if worst == status.OK {
		return nil
	}
	return checkResult{worst}
}

// unknownIf turns an error reaching the broker into the monitoring
// plugins' UNKNOWN (exit 3) under --check.
func unknownIf(check bool, err error) error {
	if !check {
		return err
	}
	fmt.Fprintln(os.Stdout, "UNKNOWN:", err)
	return checkResult{3}
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/replica"
)

// cmdRepair verifies a replica whose daemon is stopped and fetches again
// what differs, keeping its state.
func cmdRepair(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("repair", flag.ContinueOnError)
	var lf logFlags
	var rf replicaFlags
	var cf connFlags
	asJSON := fs.Bool("json", false, "print both verifies as JSON")
	lf.register(fs)
	rf.register(fs)
	cf.register(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	cfg, err := rf.config(nil)
	if err != nil {
		return err
	}
	cfg.Logger = log
	if cfg.ID, err = replicaID(&cf, cfg.Folder, cfg.ID); err != nil {
		return err
	}
	nc, js, err := cf.connect("jetsync repair "+cfg.Folder, access.ReplicaOf(cfg.Folder, cfg.ID), false, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	rep, err := replica.New(cfg, js)
	if err != nil {
		return fmt.Errorf("%w (is the replica daemon still running? stop it first, or give it --verify-every and --repair)", err)
	}
	before, after, err := rep.Repair(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]replica.Scrub{"before": before, "after": after}); err != nil {
			return err
		}
	} else {
		printRepair(before, after)
	}
	if !after.Equal {
		return errDiffers
	}
	return nil
}

func printRepair(before, after replica.Scrub) {
	if before.Equal {
		fmt.Printf("equal: %d files, %d bytes match the published state (seq %d); nothing to repair\n",
			before.Files, before.Bytes, before.StreamSeq)
		return
	}
	fmt.Printf("found %d paths different from the published state (seq %d):\n", before.Diffs, before.StreamSeq)
	for _, d := range before.First {
		fmt.Printf("  %s: %s\n", d.Path, d.Kind)
	}
	if before.Diffs > len(before.First) {
		fmt.Printf("  and %d more\n", before.Diffs-len(before.First))
	}
	if after.Equal {
		fmt.Printf("repaired: the replica now equals the published state (%d files, seq %d)\n", after.Files, after.StreamSeq)
		return
	}
	first := after.Error
	if len(after.First) > 0 {
		first = after.First[0].Path + ": " + after.First[0].Kind
	}
	fmt.Printf("still different after the repair: %d paths (first: %s)\n", after.Diffs, first)
}

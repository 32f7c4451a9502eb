package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"time"

	"github.com/jetsync/jetsync/pkg/status"
)

func cmdStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var lf logFlags
	var cf connFlags
	folder := fs.String("folder", "", "only this folder (default: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	lf.register(fs)
	cf.register(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	nc, js, err := cf.dial("jetsync status", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	folders, err := status.Collect(ctx, js, *folder)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(folders)
	}
	status.WriteText(os.Stdout, folders, time.Now())
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/verify"
)

func cmdVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var lf logFlags
	var cf connFlags
	folder := fs.String("folder", "", "folder name")
	path := fs.String("path", "", "local directory to compare with the published state")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	sourceKey := fs.String("source-key", "", "report what the source did not sign as malformed: its public key, SHA256: fingerprint, or a file holding either")
	ignore := fs.String("ignore", "", "comma-separated parts of \"equal\" not to compare, for a replica that cannot keep them: "+strings.Join(verify.Ignorable, ", "))
	var ef encryptionFlag
	ef.register(fs, "the folder's encryption key: an encrypted folder is compared only with it")
	lf.registerOneShot(fs)
	cf.register(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required("folder", *folder); err != nil {
		return err
	}
	if err := required("path", *path); err != nil {
		return err
	}
	if err := verify.ParseIgnore(splitList(*ignore)); err != nil {
		return usagef("--ignore: %v", err)
	}
	key, err := parseSourceKey(*sourceKey)
	if err != nil {
		return err
	}
	enc, err := ef.key()
	if err != nil {
		return err
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	root, err := filepath.Abs(*path)
	if err != nil {
		return err
	}
	// A replica's credentials read the state of its folder; the inbox of
	// the folder's replicas is the same whatever the replica's id.
	nc, js, err := cf.connect("jetsync verify", access.ReplicaOf(*folder, "verify"), false, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	rep, err := verify.Verify(ctx, js, verify.Options{Folder: *folder, Root: root, Logger: log, Ignore: splitList(*ignore), SourceKey: key,
		Encryption: enc})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(os.Stdout)
	}
	if !rep.Equal {
		return errDiffers
	}
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

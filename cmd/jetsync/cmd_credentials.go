package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"github.com/jetsync/jetsync/pkg/access"
)

// credFlags name one identity and the store of its credentials.
type credFlags struct {
	data, dir, folder, replica string
	source, monitor, admin     bool
}

func (c *credFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.data, "data", "", "the --data of the broker (jetsync broker, or jetsync source --listen): its credentials are in DATA/auth")
	fs.StringVar(&c.dir, "dir", "", "keep the credentials in this directory instead (for an external NATS server, see deploy/nats)")
	fs.StringVar(&c.folder, "folder", "", "folder of the source or replica")
	fs.StringVar(&c.replica, "replica", "", "credentials of the replica with this --id")
	fs.BoolVar(&c.source, "source", false, "credentials of the folder's source (one that connects with --nats)")
	fs.BoolVar(&c.monitor, "monitor", false, "read-only credentials for jetsync status and dashboards")
	fs.BoolVar(&c.admin, "admin", false, "the administrator's credentials: every right (for the nats CLI)")
}

func (c *credFlags) store() (access.Store, error) {
	switch {
	case (c.data == "") == (c.dir == ""):
		return access.Store{}, usagef("give exactly one of --data DIR (the broker's) or --dir DIR")
	case c.dir != "":
		return access.Store{Dir: c.dir}, nil
	}
	return access.Store{Dir: authDir(c.data)}, nil
}

func (c *credFlags) identity() (access.Identity, error) {
	var ids []access.Identity
	if c.replica != "" {
		ids = append(ids, access.ReplicaOf(c.folder, c.replica))
	}
	if c.source {
		ids = append(ids, access.SourceOf(c.folder))
	}
	if c.monitor {
		ids = append(ids, access.MonitorID())
	}
	if c.admin {
		ids = append(ids, access.AdminID())
	}
	if len(ids) != 1 {
		return access.Identity{}, usagef("give one of --replica ID, --source, --monitor or --admin")
	}
	if err := ids[0].Validate(); err != nil {
		return access.Identity{}, usageError{err}
	}
	return ids[0], nil
}

func cmdCredentials(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("credentials", flag.ContinueOnError)
	var cf credFlags
	revoke := fs.Bool("revoke", false, "delete the credentials: the broker disconnects and refuses whoever holds them")
	list := fs.Bool("list", false, "list the credentials the broker admits")
	natsConf := fs.Bool("nats-config", false, "also print the user's entry for a NATS server configuration (see deploy/nats)")
	cf.register(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	st, err := cf.store()
	if err != nil {
		return err
	}
	if *list {
		return listCredentials(st)
	}
	id, err := cf.identity()
	if err != nil {
		return err
	}
	if *revoke {
		return revokeCredentials(st, id)
	}
	path, created, err := st.Ensure(id)
	if err != nil {
		return err
	}
	fmt.Println(path)
	if created {
		fmt.Fprintf(os.Stderr, "jetsync: generated the credentials of %s; a running broker admits them within a second\n", id)
	}
	if id.Role == access.Replica {
		fmt.Fprintf(os.Stderr, "jetsync: copy the file to that replica (mode 0600) and start it with --nkey FILE\n")
	}
	if *natsConf {
		cr, err := access.ReadCredentials(path)
		if err != nil {
			return err
		}
		fmt.Print(access.ConfigEntry(id, cr.Public))
	}
	return nil
}

func listCredentials(st access.Store) error {
	ids, err := st.List()
	if err != nil {
		return err
	}
	for _, c := range ids {
		fmt.Printf("%-40s %s\n", c.Identity.Name(), c.Public)
	}
	return nil
}

func revokeCredentials(st access.Store, id access.Identity) error {
	err := os.Remove(st.Path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no credentials of %s in %s", id, st.Dir)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "jetsync: revoked the credentials of %s\n", id)
	return nil
}

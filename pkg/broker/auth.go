package broker

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetsync/jetsync/pkg/access"
)

// AuthPoll is how often a broker looks for credentials added to or
// removed from its store.
var AuthPoll = 250 * time.Millisecond

// loadUsers generates the administrator's and monitoring's credentials if
// st lacks them and sets every credential of st as a user of opts. It
// returns the store's version, to notice changes from.
func loadUsers(st *access.Store, opts *server.Options) (string, error) {
	if st == nil {
		return "", nil
	}
	for _, id := range []access.Identity{access.AdminID(), access.MonitorID()} {
		if _, _, err := st.Ensure(id); err != nil {
			return "", err
		}
	}
	version, err := st.Version()
	if err != nil {
		return "", err
	}
	users, err := st.Users()
	if err != nil {
		return "", err
	}
	opts.Nkeys = users
	return version, nil
}

// watchAuth reloads the users whenever the store changes, until Shutdown.
func (b *Broker) watchAuth(version string) {
	defer close(b.done)
	if b.auth == nil {
		return
	}
	b.authMu.Lock()
	b.version = version
	b.authMu.Unlock()
	t := time.NewTicker(AuthPoll)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		b.reloadNow()
	}
}

// reloadNow makes the server's users those of the store, if the store
// changed since they were loaded. A client whose credentials were removed
// is disconnected. A store that cannot be read leaves the users as they
// are.
func (b *Broker) reloadNow() {
	b.authMu.Lock()
	defer b.authMu.Unlock()
	v, err := b.auth.Version()
	if err != nil || v == b.version {
		return
	}
	b.version = v // a failure below is logged once, not at every poll
	users, err := b.auth.Users()
	if err != nil {
		b.log.Error("credentials not reloaded; the broker keeps the previous ones", "err", err)
		return
	}
	opts := b.opts.Clone()
	opts.Nkeys = users
	if err := b.srv.ReloadOptions(opts); err != nil {
		b.log.Error("credentials not reloaded; the broker keeps the previous ones", "err", fmt.Errorf("reload: %w", err))
		return
	}
	b.opts = opts
	b.log.Info("credentials reloaded", "users", len(users))
}

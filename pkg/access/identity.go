package access

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Role is what a client is to the broker.
type Role string

const (
	// Source publishes one folder's state and content cache, manages
	// that folder's streams and answers its content requests.
	Source Role = "source"
	// Replica reads one folder's state, manages its own consumer only,
	// asks the source for content and reports its own status.
	Replica Role = "replica"
	// Monitor reads the status bucket and stream information of every
	// folder (jetsync status), and changes nothing.
	Monitor Role = "monitor"
	// Admin may do anything: the broker's operator, for the nats CLI.
	Admin Role = "admin"
)

// Identity is a role, with the folder of a source or replica and the id of
// a replica.
type Identity struct {
	Role   Role
	Folder string // Source and Replica
	ID     string // Replica: its --id
}

// SourceOf, ReplicaOf, MonitorID and AdminID name identities.
func SourceOf(folder string) Identity      { return Identity{Role: Source, Folder: folder} }
func ReplicaOf(folder, id string) Identity { return Identity{Role: Replica, Folder: folder, ID: id} }
func MonitorID() Identity                  { return Identity{Role: Monitor} }
func AdminID() Identity                    { return Identity{Role: Admin} }
func (id Identity) String() string         { return id.Name() }

var idRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,128}$`)

// Validate checks that the identity names a known role with what that
// role needs: a valid folder for a source or replica, and for a replica an
// id of 1-128 of A-Z a-z 0-9 _ . @ - (a host name fits).
func (id Identity) Validate() error {
	switch id.Role {
	case Source, Replica:
		if err := wire.ValidFolder(id.Folder); err != nil {
			return err
		}
	case Monitor, Admin:
		if id.Folder != "" || id.ID != "" {
			return fmt.Errorf("the %s role is not per folder", id.Role)
		}
		return nil
	default:
		return fmt.Errorf("unknown role %q: want source, replica, monitor or admin", id.Role)
	}
	if id.Role == Source && id.ID != "" {
		return errors.New("a source has no id")
	}
	if id.Role == Replica && !idRE.MatchString(id.ID) {
		return fmt.Errorf("invalid replica id %q: use 1-128 of A-Z a-z 0-9 _ . @ -", id.ID)
	}
	return nil
}

// Name is the identity as one dotted word: "source.photos",
// "replica.photos.nas2", "monitor", "admin". A replica id's characters
// other than A-Z a-z 0-9 _ - become '_', as in its status key.
func (id Identity) Name() string {
	switch id.Role {
	case Source:
		return string(Source) + "." + id.Folder
	case Replica:
		return string(Replica) + "." + id.Folder + "." + bus.IDToken(id.ID)
	}
	return string(id.Role)
}

// InboxPrefix is the prefix of the reply subjects of a client with this
// identity, the only replies it may subscribe to (nats.CustomInboxPrefix).
// The replicas of one folder share theirs: what one could read in
// another's replies it may read itself, and none may publish there.
func InboxPrefix(id Identity) string {
	switch id.Role {
	case Source:
		return "_INBOX_jetsync.source." + id.Folder
	case Replica:
		return "_INBOX_jetsync.replica." + id.Folder
	case Monitor:
		return "_INBOX_jetsync.monitor"
	}
	return "_INBOX"
}

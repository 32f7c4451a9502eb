package fsmeta

import (
	"errors"
	"os/user"
	"strconv"
	"sync"
)

// ErrNotPermitted reports that the process may not change a file's owner
// (it is neither root nor holds CAP_CHOWN). Callers count it and warn once
// rather than failing the file.
var ErrNotPermitted = errors.New("not permitted to change owner")

// Owner is a file's owner: the numbers, and the names they had where the
// file was read ("" when the number has no name there).
type Owner struct {
	UID, GID    uint32
	User, Group string
}

// names caches lookups in both directions for the life of the process:
// without cgo, package os/user parses /etc/passwd and /etc/group on every
// call, far too slow to do per file.
type names struct {
	mu     sync.Mutex
	user   map[uint32]string
	group  map[uint32]string
	uid    map[string]lookup
	gid    map[string]lookup
	byID   func(kind byte, id uint32) string
	byName func(kind byte, name string) (uint32, bool)
}

// lookup is a cached name to number result; ok is false when the name
// does not exist locally.
type lookup struct {
	id uint32
	ok bool
}

// cache is the process-wide name cache.
var cache = newNames(osNameByID, osIDByName)

// newNames returns an empty cache over the given lookups (tests pass fakes).
func newNames(byID func(byte, uint32) string, byName func(byte, string) (uint32, bool)) *names {
	return &names{
		user: map[uint32]string{}, group: map[uint32]string{},
		uid: map[string]lookup{}, gid: map[string]lookup{},
		byID: byID, byName: byName,
	}
}

// name returns the name of user ('u') or group ('g') id, "" if none.
func (n *names) name(kind byte, id uint32) string {
	m := n.user
	if kind == 'g' {
		m = n.group
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	s, ok := m[id]
	if !ok {
		s = n.byID(kind, id)
		m[id] = s
	}
	return s
}

// id returns the local number of user ('u') or group ('g') name.
func (n *names) id(kind byte, name string) (uint32, bool) {
	m := n.uid
	if kind == 'g' {
		m = n.gid
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	l, ok := m[name]
	if !ok {
		l.id, l.ok = n.byName(kind, name)
		m[name] = l
	}
	return l.id, l.ok
}

// osNameByID asks package os/user for the name of a number.
func osNameByID(kind byte, id uint32) string {
	s := strconv.FormatUint(uint64(id), 10)
	if kind == 'g' {
		if g, err := user.LookupGroupId(s); err == nil {
			return g.Name
		}
		return ""
	}
	if u, err := user.LookupId(s); err == nil {
		return u.Username
	}
	return ""
}

// osIDByName asks package os/user for the number of a name.
func osIDByName(kind byte, name string) (uint32, bool) {
	var s string
	if kind == 'g' {
		g, err := user.LookupGroup(name)
		if err != nil {
			return 0, false
		}
		s = g.Gid
	} else {
		u, err := user.Lookup(name)
		if err != nil {
			return 0, false
		}
		s = u.Uid
	}
	id, err := strconv.ParseUint(s, 10, 32)
	return uint32(id), err == nil
}

// OwnerOfIDs returns the Owner of numbers uid and gid, with their local
// names (cached).
func OwnerOfIDs(uid, gid uint32) Owner {
	return Owner{UID: uid, GID: gid, User: cache.name('u', uid), Group: cache.name('g', gid)}
}

// ResolveOwner returns the local numbers for o: by name where the name
// exists here, else o's numbers.
func ResolveOwner(o Owner) (uid, gid uint32) {
	return cache.resolve(o)
}

// resolve maps o through n.
func (n *names) resolve(o Owner) (uid, gid uint32) {
	uid, gid = o.UID, o.GID
	if o.User != "" {
		if id, ok := n.id('u', o.User); ok {
			uid = id
		}
	}
	if o.Group != "" {
		if id, ok := n.id('g', o.Group); ok {
			gid = id
		}
	}
	return uid, gid
}

package apply

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/jetsync/jetsync/pkg/fsmeta"
	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Kinds of attributes an Attrs applier may be unable to apply, as told to
// Attrs.Skipped.
const (
	SkipOwner = "owner" // not root and no CAP_CHOWN, or owners turned off
	SkipXattr = "xattr" // a namespace this platform or process cannot set, or a file system without them
	SkipACL   = "acl"   // an NFSv4 ACL on a platform or file system without them
)

// Attrs applies what a version 4 record says beyond mode and mtime:
// owner, extended attributes (POSIX ACLs among them) and NFSv4 ACLs.
// What it may not apply is reported to Skipped, never an error: a replica
// that cannot set an owner still keeps the data. The record itself, with
// everything it says, stays the latest state of its path in the stream.
type Attrs struct {
	// Owners applies owners, by name where the name exists locally and
	// by number otherwise. Off, the replica's files keep its own.
	Owners bool
	// Skipped, if set, is told of each path and kind of attribute not
	// applied, and why.
	Skipped func(kind, path string, err error)

	noChown atomic.Bool // a chown was refused: not root, stop asking
}

// OwnersApplied reports whether owners are being applied: turned on, and
// no chown refused so far.
func (a *Attrs) OwnersApplied() bool { return a.Owners && !a.noChown.Load() }

// errOwnersOff is the reason given for owners a replica was told to keep.
var errOwnersOff = errors.New("owners are not replicated here (--owners=off)")

func (a *Attrs) skip(kind, path string, err error) {
	if a.Skipped != nil {
		a.Skipped(kind, path, err)
	}
}

// applyPath applies rec's attributes to rec.Path and reports whether
// anything changed.
func (a *Applier) applyAttrs(rec *wire.Record) (bool, error) {
	if a.Attrs == nil || !rec.HasAttrs() {
		return false, nil
	}
	var changed bool
	err := a.Root.WithOSPath(rec.Path, func(p string) error {
		var err error
		changed, err = a.Attrs.apply(p, rec)
		return err
	})
	return changed, err
}

// applyTempAttrs applies rec's attributes to the temp file that becomes
// rec.Path, before its mode is set (a chown clears setuid and setgid).
func (a *Applier) applyTempAttrs(tmp *fsroot.Temp, rec *wire.Record) error {
	if a.Attrs == nil || !rec.HasAttrs() {
		return nil
	}
	return tmp.WithOSPath(func(p string) error {
		_, err := a.Attrs.apply(p, rec)
		return err
	})
}

// apply sets owner, extended attributes and ACL of the file at osPath.
func (a *Attrs) apply(osPath string, rec *wire.Record) (bool, error) {
	var changed bool
	if rec.Owner != nil {
		c, err := a.applyOwner(osPath, rec)
		if err != nil {
			return changed, err
		}
		changed = changed || c
	}
	c, err := a.applyXattrs(osPath, rec)
	if err != nil {
		return changed, err
	}
	changed = changed || c
	c, err = a.applyACL(osPath, rec)
	return changed || c, err
}

func (a *Attrs) applyOwner(osPath string, rec *wire.Record) (bool, error) {
	if !a.Owners {
		a.skip(SkipOwner, rec.Path, errOwnersOff)
		return false, nil
	}
	if a.noChown.Load() {
		a.skip(SkipOwner, rec.Path, fsmeta.ErrNotPermitted)
		return false, nil
	}
	uid, gid := fsmeta.ResolveOwner(*rec.Owner)
	fi, err := os.Lstat(osPath)
	if err != nil {
		return false, &fsroot.PathError{Op: "lstat", Path: rec.Path, Err: err}
	}
	if have, ok := fsmeta.OwnerOf(fi); ok && have.UID == uid && have.GID == gid {
		return false, nil
	}
	err = fsmeta.Chown(osPath, uid, gid)
	if errors.Is(err, fsmeta.ErrNotPermitted) {
		a.noChown.Store(true)
		a.skip(SkipOwner, rec.Path, err)
		return false, nil
	}
	if err != nil {
		return false, &fsroot.PathError{Op: "chown", Path: rec.Path, Err: err}
	}
	return true, nil
}

func (a *Attrs) applyXattrs(osPath string, rec *wire.Record) (bool, error) {
	want, err := fsmeta.DecodeXattrs(rec.Xattrs)
	if err != nil {
		// Validate checked it: this is a record built wrong here.
		return false, &fsroot.PathError{Op: "apply", Path: rec.Path, Err: badRecord(fmt.Errorf("%w: %v", wire.ErrMalformed, err))}
	}
	have, err := fsmeta.ReadXattrs(osPath)
	if err == nil && sameXattrs(have, want) {
		return false, nil
	}
	skipped, err := fsmeta.SetXattrs(osPath, want)
	if len(skipped) > 0 {
		a.skip(SkipXattr, rec.Path, fmt.Errorf("cannot set %s here", strings.Join(skipped, ", ")))
	}
	if err != nil {
		if !refused(err) {
			return true, &fsroot.PathError{Op: "set extended attributes of", Path: rec.Path, Err: err}
		}
		a.skip(SkipXattr, rec.Path, err)
	}
	return true, nil
}

// sameXattrs reports whether have holds want exactly, ignoring what this
// process could not set anyway.
func sameXattrs(have, want fsmeta.Xattrs) bool {
	for n, v := range have {
		if w, ok := want[n]; (!ok && fsmeta.Applicable(n)) || (ok && string(w) != string(v)) {
			return false
		}
	}
	for n := range want {
		if _, ok := have[n]; !ok {
			return false
		}
	}
	return true
}

func (a *Attrs) applyACL(osPath string, rec *wire.Record) (bool, error) {
	if rec.ACL == nil {
		return false, nil
	}
	acl, err := fsmeta.DecodeACL(rec.ACL)
	if err != nil {
		return false, &fsroot.PathError{Op: "apply", Path: rec.Path, Err: badRecord(fmt.Errorf("%w: %v", wire.ErrMalformed, err))}
	}
	if acl.Platform != fsmeta.PlatformFreeBSDNFS4 || runtime.GOOS != "freebsd" {
		if !acl.Trivial() {
			a.skip(SkipACL, rec.Path, fmt.Errorf("%w: %s ACL on %s", fsmeta.ErrACLNotSupported, acl.Platform, runtime.GOOS))
		}
		return false, nil
	}
	if have, err := fsmeta.ReadNFS4ACL(osPath); err == nil && have.String() == acl.String() {
		return false, nil
	}
	err = fsmeta.WriteNFS4ACL(osPath, acl)
	switch {
	case errors.Is(err, fsmeta.ErrACLNotSupported) || refused(err):
		if !acl.Trivial() {
			a.skip(SkipACL, rec.Path, err)
		}
		return false, nil
	case err != nil:
		return true, &fsroot.PathError{Op: "set ACL of", Path: rec.Path, Err: err}
	}
	return true, nil
}

// refused reports errors that say the file system or the process cannot
// take an attribute at all, as opposed to a failure worth retrying.
func refused(err error) bool {
	return errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, errors.ErrUnsupported)
}

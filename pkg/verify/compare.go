package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/jetsync/jetsync/pkg/exclude"
	"github.com/jetsync/jetsync/pkg/wire"
	bolt "go.etcd.io/bbolt"
)

// bufSize is the read buffer for hashing files.
const bufSize = 1 << 20

// merger walks the local tree and the index side by side. Both are in the
// same order (see indexKey), so each local path either matches the next
// wanted key, comes after wanted keys that are therefore missing, or is
// extra.
type merger struct {
	ctx    context.Context
	cur    *bolt.Cursor
	k, v   []byte // next wanted entry; k is nil when the index is exhausted
	rep    *Report
	root   string
	prefix string // root with a trailing separator
	buf    []byte
	pace   *pacer
	ignore ignoreSet
	links  linkNames
	excl   *exclude.Matcher
	// rootWant is the folder root's own state (mode, mtime, owner,
	// attributes), reported as ".".
	rootWant *want
}

// compareTree walks root and the index and adds every difference to rep.
func compareTree(ctx context.Context, x *index, root string, rep *Report, pace *pacer, ignore ignoreSet, excl *exclude.Matcher) error {
	return x.db.View(func(tx *bolt.Tx) error {
		m := &merger{ctx: ctx, cur: tx.Bucket(bucketName).Cursor(), rep: rep, root: root, prefix: withSep(root),
			buf: make([]byte, bufSize), pace: pace, ignore: ignore, excl: excl, rootWant: x.root}
		m.k, m.v = m.cur.First()
		err := filepath.WalkDir(root, m.visit)
		if err != nil && !errors.Is(err, fs.SkipAll) {
			return err
		}
		if err := m.missingUpTo(nil); err != nil {
			return err
		}
		if !ignore.links {
			m.links.report(rep)
		}
		return nil
	})
}

func (m *merger) visit(path string, d fs.DirEntry, err error) error {
	if err != nil {
		return walkError(path, err)
	}
	if path == m.root {
		if m.rootWant == nil {
			return nil // a source older than record version 4 publishes none
		}
		return m.compare(path, ".", d, *m.rootWant)
	}
	rel := filepath.ToSlash(strings.TrimPrefix(path, m.prefix))
	if strings.HasPrefix(d.Name(), wire.TempPrefix) {
		return skip(d)
	}
	if m.excl.Match(rel, d.IsDir()) {
		m.rep.Excluded++
		return skip(d)
	}
	if err := m.ctx.Err(); err != nil {
		return err
	}
	key := indexKey(rel)
	if err := m.missingUpTo(key); err != nil {
		return err
	}
	if m.k != nil && bytes.Equal(m.k, key) {
		w, err := decodeWant(m.v)
		if err != nil {
			return err
		}
		m.k, m.v = m.cur.Next()
		err = m.compare(path, rel, d, w)
		if err != nil {
			return err
		}
	} else {
		m.rep.add(Diff{Path: rel, Kind: KindExtra, Got: kindOf(d.Type())})
	}
	if m.rep.full() {
		return fs.SkipAll
	}
	return nil
}

// missingUpTo reports every wanted key before key (all of them when key is
// nil) as missing.
func (m *merger) missingUpTo(key []byte) error {
	for m.k != nil && (key == nil || bytes.Compare(m.k, key) < 0) {
		if m.rep.full() {
			return nil
		}
		w, err := decodeWant(m.v)
		if err != nil {
			return err
		}
		m.rep.add(Diff{Path: pathOf(m.k), Kind: KindMissing, Want: string(w.Type)})
		m.k, m.v = m.cur.Next()
	}
	return nil
}

// walkError decides about a path the walk could not read: one that
// vanished meanwhile is simply absent, anything else ends the verification.
func walkError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("read %s: %w", path, err)
}

func skip(d fs.DirEntry) error {
	if d.IsDir() {
		return fs.SkipDir
	}
	return nil
}

func withSep(root string) string {
	if strings.HasSuffix(root, string(filepath.Separator)) {
		return root
	}
	return root + string(filepath.Separator)
}

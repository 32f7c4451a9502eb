//go:build linux

package hostile

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// rejectTimeout bounds the wait for the replica to read and reject what a
// case sent.
const rejectTimeout = 30 * time.Second

// malformedRecords: state records that do not decode, or decode to
// nonsense, on the state subjects of paths. Each is rejected: counted as
// a bad message, named in a log line, and the replica goes on.
func (h *rig) malformedRecords(t *testing.T) {
	epoch := h.pub.epoch(t)
	content := []byte("x")
	hash := wire.Sum(content).String()
	elsewhere, err := wire.EncodeRecord(inlineFile("junk/elsewhere", content, epoch))
	harness.Must(t, err)
	junk := []struct{ name, data string }{
		{"null", "null"},
		{"empty-object", "{}"},
		{"version-0", fmt.Sprintf(`{"v":0,"epoch":%d,"path":"junk/version-0","type":"file","mode":420,"size":1,"hash":%q,"chunks":[{"h":%q,"n":1}]}`, epoch, hash, hash)},
		{"version-negative", fmt.Sprintf(`{"v":-1,"epoch":%d,"path":"junk/version-negative","type":"dir","mode":493}`, epoch)},
		{"no-version", `{"path":"junk/no-version","type":"dir","mode":493}`},
		{"empty-message", ""},
		{"truncated-json", `{"v":3,"epoch":1,"path":"junk/trunc`},
		{"binary", string(treegen.Random(300, 1401))},
		{"chunk-length-2^62", fmt.Sprintf(`{"v":3,"epoch":%d,"path":"junk/chunk-length-2^62","type":"file","mode":420,"size":4611686018427387904,"hash":%q,"chunks":[{"h":%q,"n":4611686018427387904}]}`, epoch, hash, hash)},
		{"unknown-type", fmt.Sprintf(`{"v":3,"epoch":%d,"path":"junk/unknown-type","type":"fifo","mode":420}`, epoch)},
		{"record-of-another-path", string(elsewhere)},
		{"oversized", `{"v":3,"path":"junk/oversized","type":"symlink","mode":511,"target":"` + stringOf('a', 300<<10) + `"}`},
	}
	mark := logMark(h.replica)
	before := h.errorsOf("bad_message")
	for _, j := range junk {
		h.pub.junkOn(t, wire.StateSubject(h.folder, "junk/"+j.name), []byte(j.data))
	}
	t.Cleanup(func() { h.pub.clear(t); h.settle(t) })
	within(t, rejectTimeout, fmt.Sprintf("%d malformed records counted as bad messages", len(junk)), func() (bool, string) {
		n := h.errorsOf("bad_message") - before
		return n >= float64(len(junk)), fmt.Sprintf("jetsync_replica_errors_total{kind=\"bad_message\"} rose by %.0f", n)
	})
	log := logSince(h.replica, mark)
	for _, j := range junk {
		if subject := wire.StateSubject(h.folder, "junk/"+j.name); len(problemLines(log, subject)) == 0 {
			t.Errorf("no warning or error names %s, where the test sent %s", subject, j.name)
		}
	}
}

func stringOf(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

// confinement: records whose paths leave the replica's root (rejected as
// bad messages), and valid records that meet symlinks the test planted in
// the replica's tree, pointing outside. Nothing outside the root may be
// created, changed or removed (checked after every case).
func (h *rig) confinement(t *testing.T) {
	epoch := h.pub.epoch(t)
	content := []byte("written by a hostile record\n")
	bad := []string{"../x", "conf/../../x", "/etc/x", filepath.Join(h.outside, "abs"), "conf/nul\x00byte",
		"./conf/dot", "conf//double", "conf/", "", "../outside", filepath.Join(h.outside, "sub")}
	t.Cleanup(func() { h.pub.clear(t); h.settle(t) })
	// A subject keeps only its latest message: each kind of record goes
	// to every path's subject in a round of its own, read before the next.
	for round := range 4 {
		mark := logMark(h.replica)
		before := h.errorsOf("bad_message")
		sent := bad
		if round == 3 {
			// A directory record of the empty path is the folder root's
			// own (record version 4): not a path outside the root.
			sent = slices.DeleteFunc(slices.Clone(bad), func(p string) bool { return p == wire.RootPath })
		}
		for i, path := range sent {
			h.pub.junkOn(t, wire.StateSubject(h.folder, path), hostilePathRecords(path, content, epoch, i%2 == 0)[round])
		}
		within(t, rejectTimeout, fmt.Sprintf("%d records (round %d) with paths outside the root counted as bad messages", len(sent), round), func() (bool, string) {
			n := h.errorsOf("bad_message") - before
			return n >= float64(len(sent)), fmt.Sprintf("jetsync_replica_errors_total{kind=\"bad_message\"} rose by %.0f", n)
		})
		log := logSince(h.replica, mark)
		for _, path := range sent {
			if subject := wire.StateSubject(h.folder, path); len(problemLines(log, subject)) == 0 {
				t.Errorf("no warning or error names %s, where the test sent a record of %q (round %d)", subject, path, round)
			}
		}
	}
	h.symlinkTraps(t, content, epoch)
}

// hostilePathRecords returns records of path, which must not be accepted:
// a file with inline content, a tombstone, a symlink and a directory, with
// the path as text or, when b64, as base64 (path_b64).
func hostilePathRecords(path string, content []byte, epoch uint64, b64 bool) [][]byte {
	now := time.Now().UnixNano()
	base := func(typ string) map[string]any {
		m := map[string]any{"v": wire.RecordVersion, "epoch": epoch, "type": typ, "mode": 0o644, "mtime": now, "time": now}
		if b64 {
			m["path_b64"] = base64.StdEncoding.EncodeToString([]byte(path))
		} else {
			m["path"] = path
		}
		return m
	}
	file := base("file")
	file["size"], file["hash"] = len(content), wire.Sum(content).String()
	link := base("symlink")
	link["target"] = "/etc/passwd"
	var out [][]byte
	for _, m := range []map[string]any{file, base("deleted"), link, base("dir")} {
		b, _ := json.Marshal(m)
		if m["type"] == "file" {
			b = append(append(b, '\n'), wire.EncodeChunk(nil, content, wire.NoCompression)...)
		}
		out = append(out, b)
	}
	return out
}

// symlinkTraps plants symlinks to outside in the replica's tree and
// publishes valid records that meet them: a file below one, a tombstone
// of a file below one and of one itself, a directory and a file in
// their place, and a published symlink with a file below it.
func (h *rig) symlinkTraps(t *testing.T, content []byte, epoch uint64) {
	harness.Must(t, os.MkdirAll(filepath.Join(h.dst, "conf"), 0o755))
	h.pub.live["conf"] = true // clear removes the planted links with it
	plant := map[string]string{"evil": h.outside, "evil2": filepath.Join(h.outside, "sub"),
		"evil3": filepath.Join(h.outside, "sub"), "evil4": h.outside, "evil5": filepath.Join(h.outside, "victim.txt")}
	for name, target := range plant {
		harness.Must(t, os.Symlink(target, filepath.Join(h.dst, "conf", name)))
	}
	h.pub.record(t, inlineFile("conf/evil/x", content, epoch))
	h.pub.record(t, tombstone("conf/evil2/keep.txt", epoch))
	h.pub.record(t, tombstone("conf/evil3", epoch))
	h.pub.record(t, dirRecord("conf/evil4", 0o700, epoch))
	h.pub.record(t, inlineFile("conf/evil5", content, epoch))
	h.pub.record(t, symlinkRecord("conf/lnk", h.outside, epoch))
	h.pub.record(t, inlineFile("conf/lnk/y", content, epoch))
	within(t, rejectTimeout, "the replica past the records that meet symlinks", func() (bool, string) { return h.caughtUp(t) })
	for _, rel := range []string{"conf/evil/x", "conf/evil5", "conf/lnk/y"} {
		if ok, msg := sameFile(filepath.Join(h.dst, rel), content); !ok {
			t.Logf("note: %s", msg)
		}
	}
}

//go:build linux

package hostile

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/treegen"
)

// The replica's metrics of parked records (as the issue names them).
const (
	metricParked      = "jetsync_replica_parked"       // gauge: records parked now
	metricParkedTotal = "jetsync_replica_parked_total" // counter: records ever parked
)

// parkTimeout bounds the wait for every record that can never be applied
// to be parked: the replica may first try each a few times.
const parkTimeout = 45 * time.Second

// parkCase is a valid file record whose content can never be had, and
// what the test puts in the content cache for it (by hash).
type parkCase struct {
	name  string
	rec   *wire.Record
	cache map[wire.Hash][]byte
}

// parkCases returns the records that can never be applied, more than the
// replica's 8 workers: content nobody published, content in the cache
// that does not match its hash, is cut short, uses a codec that does not
// exist, decompresses to 1 GiB, or declares a length of 2^62.
func parkCases(epoch uint64) []parkCase {
	content := func(seed uint64) []byte { return treegen.Random(2000, seed) }
	cached := func(name string, c []byte, p []byte) parkCase {
		rec := chunkedFile("", c, epoch, true)
		return parkCase{name: name, rec: rec, cache: map[wire.Hash][]byte{rec.Chunks[0].Hash: p}}
	}
	c := []parkCase{
		{name: "never-published", rec: chunkedFile("", content(1510), epoch, false)},
		{name: "never-published-cached", rec: chunkedFile("", content(1511), epoch, true)},
		cached("wrong-content", content(1512), wire.EncodeChunk(nil, content(1599), wire.NoCompression)),
		cached("truncated", content(1513), wire.EncodeChunk(nil, content(1513), wire.NoCompression)[:1000]),
		cached("unknown-codec", content(1514), payload(9, 2000, content(1514))),
		cached("s2-garbage", content(1515), payload(wire.CodecS2, 2000, content(1598))),
		cached("length-2^62", content(1516), payload(wire.CodecRaw, 1<<62, content(1516))),
		// A file of 1 MiB of zeros whose cached chunk is a zstd frame of
		// 1 GiB of zeros, declared in the frame; then one of 1 MiB - 1
		// whose frame says nothing of its size.
		cached("zstd-bomb-declared", make([]byte, wire.MaxChunkLen), payload(wire.CodecZstd, wire.MaxChunkLen, zstdZeros(1<<30, true))),
		cached("zstd-bomb-streamed", make([]byte, wire.MaxChunkLen-1), payload(wire.CodecZstd, wire.MaxChunkLen-1, zstdZeros(1<<30, false))),
	}
	manifest := chunkedFile("", content(1517), epoch, false)
	// One blob of one entry (a tag, a hash and a one-byte size): the most
	// a file of 2,000 bytes may list; nobody published it.
	manifest.Manifest, manifest.Chunks = []wire.ChunkRef{{Hash: wire.Sum(content(1518)), Size: 34}}, nil
	corrupt := inlineFile("", content(1519), epoch)
	corrupt.Data = wire.EncodeChunk(nil, content(1597), wire.NoCompression)
	c = append(c, parkCase{name: "manifest-never-published", rec: manifest}, parkCase{name: "inline-corrupt", rec: corrupt})
	for i := range c {
		c[i].rec.Path = fmt.Sprintf("park/%02d-%s", i, c[i].name)
	}
	return c
}

// parkedRecords: records that can never be applied are parked. They hold
// neither a worker nor the replica's position: a good change made while
// they are parked is applied and committed; `jetsync status` lists them
// with a reason; metrics count them; each is named in a log line. A newer
// state of each path, published by the test or (for the first) by the
// real source writing the file, replaces it and is applied.
func (h *rig) parkedRecords(t *testing.T) {
	cases := parkCases(h.pub.epoch(t))
	for _, c := range cases {
		for hash, p := range c.cache {
			h.pub.chunk(t, hash, p)
		}
	}
	mark := logMark(h.replica)
	parkedBefore := h.metric(metricParkedTotal)
	for _, c := range cases {
		h.pub.record(t, c.rec)
	}
	t.Cleanup(func() { h.pub.clear(t); h.settle(t) })
	n := float64(len(cases))
	within(t, parkTimeout, fmt.Sprintf("all %d records parked (%s)", len(cases), metricParked), func() (bool, string) {
		v := h.metric(metricParked)
		return v == n, fmt.Sprintf("%s = %.0f", metricParked, v)
	})
	if h.goodChange(t, "while records are parked") {
		seq := h.pub.lastState(t, h.goodPath()).Sequence
		within(t, rejectTimeout, "the replica's position past the parked records", func() (bool, string) {
			v := h.metric("jetsync_replica_applied_seq")
			return v >= float64(seq), fmt.Sprintf("position %.0f, the good change is at %d", v, seq)
		})
	}
	within(t, rejectTimeout, "status listing every parked path with a reason", func() (bool, string) {
		return h.statusStuck(t, cases, true)
	})
	log := logSince(h.replica, mark)
	for _, c := range cases {
		if len(problemLines(log, c.rec.Path)) == 0 {
			t.Errorf("no warning or error names %s (%s)", c.rec.Path, c.name)
		}
	}
	if v := h.metric(metricParkedTotal) - parkedBefore; v < n {
		t.Errorf("%s rose by %.0f, want %d", metricParkedTotal, v, len(cases))
	}
	h.replaceParked(t, cases)
}

// replaceParked publishes a newer state of every parked path, the first
// by the source, and checks that each is applied and nothing stays parked.
func (h *rig) replaceParked(t *testing.T, cases []parkCase) {
	epoch := h.pub.epoch(t)
	want := map[string][]byte{}
	for i, c := range cases {
		content := fmt.Appendf(nil, "the newer state of %s\n", c.rec.Path)
		want[c.rec.Path] = content
		if i == 0 {
			h.placeFile(t, c.rec.Path, content)
			h.pub.forget(c.rec.Path)
			continue
		}
		h.pub.record(t, inlineFile(c.rec.Path, content, epoch))
	}
	within(t, time.Minute, "a newer state of every parked path applied", func() (bool, string) {
		var bad []string
		for _, path := range slices.Sorted(maps.Keys(want)) {
			if ok, msg := sameFile(filepath.Join(h.dst, path), want[path]); !ok {
				bad = append(bad, msg)
			}
		}
		return len(bad) == 0, strings.Join(bad, "\n")
	})
	within(t, rejectTimeout, "nothing parked any more", func() (bool, string) {
		v := h.metric(metricParked)
		return v == 0, fmt.Sprintf("%s = %.0f", metricParked, v)
	})
	within(t, rejectTimeout, "status listing no parked path", func() (bool, string) {
		return h.statusStuck(t, cases, false)
	})
}

// statusStuck reports whether the status lists every path of cases as
// stuck with a reason (all), or none of them.
func (h *rig) statusStuck(t *testing.T, cases []parkCase, all bool) (bool, string) {
	rep, msg := h.replicaStatus(t, "r1")
	if msg != "" {
		return false, msg
	}
	stuck := stuckPaths(rep)
	for _, c := range cases {
		reason, listed := stuck[c.rec.Path]
		switch {
		case all && !listed:
			return false, fmt.Sprintf("%s not listed as stuck: %v", c.rec.Path, rep)
		case all && reason == "":
			return false, fmt.Sprintf("%s listed as stuck without a reason: %v", c.rec.Path, rep)
		case !all && listed:
			return false, fmt.Sprintf("%s still listed as stuck (%s)", c.rec.Path, reason)
		}
	}
	return true, ""
}

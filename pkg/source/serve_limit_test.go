package source

import (
	"encoding/binary"
	rand2 "math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/wire"
)

// TestContentReplyNeverExceedsItsLimit: a reply is at most the limit the
// request set, and at most what the broker carries (a bigger reply cannot
// be sent at all, and the requester would wait for it in vain), even when
// the chunks that fit end right at the limit and many hashes remain, each
// of which still takes a status byte.
func TestContentReplyNeverExceedsItsLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Random content cuts into chunks of many sizes; zeros into chunks of
	// the largest size.
	// Seeded: whether chunks add up to just under a limit depends on
	// their sizes, so the content is the same every run.
	mix := seededBytes(7, 3<<20) + strings.Repeat("\x00", 3<<20)
	tree{"mix.bin": file(mix)}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)
	c := newContentClient(f)
	rec := f.record("mix.bin")
	zero := wire.Sum(make([]byte, chunk.MaxSize))

	// What each distinct chunk costs in a reply: status, length, payload.
	var distinct []wire.Hash
	cost := make(map[wire.Hash]int)
	for _, ref := range rec.Chunks {
		if _, ok := cost[ref.Hash]; ok {
			continue
		}
		it := c.mustAsk(t, wire.ContentChunks, "mix.bin", ref.Hash)[0]
		if it.Status != wire.ContentOK {
			t.Fatalf("chunk %s: status %d", ref.Hash, it.Status)
		}
		distinct = append(distinct, ref.Hash)
		cost[ref.Hash] = 1 + len(binary.AppendUvarint(nil, uint64(len(it.Payload)))) + len(it.Payload)
	}
	if _, ok := cost[zero]; !ok {
		t.Fatalf("no chunk of %d zero bytes in mix.bin", chunk.MaxSize)
	}

	for _, tc := range []struct {
		name         string
		limit, bound int // what the request asks, what the reply must stay within
	}{
		{"smallest limit", wire.MinContentReply, wire.MinContentReply},
		{"limit above the broker's max payload", 1 << 30, int(f.nc.MaxPayload())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := boundaryRequest(t, distinct, cost, zero, tc.bound)
			items, size, err := c.ask(wire.ContentChunks, "mix.bin", tc.limit, hs...)
			if err != nil {
				t.Fatalf("no reply: %v", err)
			}
			if size > tc.bound {
				t.Errorf("reply of %d bytes, over %d", size, tc.bound)
			}
			ok := 0
			for ok < len(items) && items[ok].Status == wire.ContentOK {
				if _, err := wire.DecodeChunk(nil, items[ok].Payload, hs[ok]); err != nil {
					t.Fatal(err)
				}
				ok++
			}
			for i, it := range items[ok:] {
				if it.Status != wire.ContentLater {
					t.Fatalf("item %d after %d served: status %d, want later", ok+i, ok, it.Status)
				}
			}
			if ok == 0 || ok == len(items) {
				t.Fatalf("%d of %d served", ok, len(items))
			}
		})
	}
}

// boundaryRequest returns 64 hashes: first chunks whose reply items add
// up to within a few bytes of the most the service lets the served items
// take (it keeps 16 bytes spare after an item, and the reply header is 2
// bytes), then chunks that no longer fit, so many that their status bytes
// alone go past limit if nothing is kept for them.
func boundaryRequest(t *testing.T, distinct []wire.Hash, cost map[wire.Hash]int, zero wire.Hash, limit int) []wire.Hash {
	t.Helper()
	const header = 2
	most := limit - 16 + 1 + 3 - header // the last item's status and 3-byte length are in its cost
	pairs := map[int][]wire.Hash{0: nil}
	for i, a := range distinct {
		pairs[cost[a]] = []wire.Hash{a}
		for _, b := range distinct[i:] {
			pairs[cost[a]+cost[b]] = []wire.Hash{a, b}
		}
	}
	// The largest chunk some times, then two pairs of chunks (or fewer)
	// that fill the rest exactly.
	for zeros := most / cost[zero]; zeros >= 0; zeros-- {
		fixed := zeros * cost[zero]
		for s := most - fixed; s > most-fixed-64; s-- {
			for sa, a := range pairs {
				b, ok := pairs[s-sa]
				k := zeros + len(a) + len(b)
				if !ok || wire.MaxContentHashes-k <= limit-header-(fixed+s) {
					continue // not reached, or the remaining status bytes would fit anyway
				}
				hs := slices.Repeat([]wire.Hash{zero}, zeros)
				picks := append(slices.Clone(a), b...)
				// The largest last: its length takes 3 bytes, as assumed above.
				slices.SortFunc(picks, func(x, y wire.Hash) int { return cost[x] - cost[y] })
				hs = append(hs, picks...)
				for len(hs) < wire.MaxContentHashes {
					hs = append(hs, zero)
				}
				return hs
			}
		}
	}
	t.Fatalf("no set of chunks adds up to just under %d bytes", most)
	return nil
}

// seededBytes returns n random-looking bytes, the same for the same seed.
func seededBytes(seed uint64, n int) string {
	var key [32]byte
	key[0] = byte(seed)
	b := make([]byte, n)
	_, _ = rand2.NewChaCha8(key).Read(b)
	return string(b)
}

//go:build linux

package hostile

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// The junk flood: floodSmall messages of 1 to 512 bytes and floodBig of
// 1 MiB, all on state subjects of their own, twice: once while the
// replica runs, once while it is stopped, so that it finds them all at
// start and its reads of the stream come back full.
const (
	floodSmall = 49_900
	floodBig   = 100
)

// catchUpTimeout bounds the replica's way through a flood.
const catchUpTimeout = 2 * time.Minute

// junkFlood: 100,000 junk messages on state subjects. Every one is
// rejected and counted, and the replica's memory stays under the limit,
// both while it follows the stream and while it catches up from a stop.
func (h *rig) junkFlood(t *testing.T) {
	filter := "jetsync." + h.folder + ".s.flood.>"
	t.Cleanup(func() {
		ctx, cancel := opContext()
		defer cancel()
		if err := h.pub.state(t).Purge(ctx, jetstream.WithPurgeSubject(filter)); err != nil {
			t.Logf("cleanup: purge %s: %v", filter, err)
		}
		h.settle(t)
	})
	before := h.errorsOf("bad_message")
	h.flood(t, 0)
	within(t, catchUpTimeout, "the replica through the flood while running", func() (bool, string) { return h.caughtUp(t) })
	live := h.errorsOf("bad_message") - before
	h.checkMemory(t, "after the flood it followed")
	if err := h.replica.Stop(); err != nil {
		t.Errorf("stop the replica: %v", err)
	}
	h.flood(t, 1)
	harness.Must(t, h.replica.Start())
	guardMemory(t, h.replica)
	within(t, catchUpTimeout, "the replica through the flood it found at start", func() (bool, string) { return h.caughtUp(t) })
	atStart := h.errorsOf("bad_message") // this run's counters start at zero
	t.Logf("bad messages counted: %.0f while running, %.0f after the start", live, atStart)
	if live < floodSmall+floodBig {
		t.Errorf("%.0f junk messages counted as bad while the replica followed the flood, want %d", live, floodSmall+floodBig)
	}
	// Every junk message is rejected with a log line naming its subject:
	// counted by subject, whichever of the replica's runs read it (a run
	// may read again what the one before had not committed).
	if n, want := rejectedFlood(h.replica.LogPath()), 2*(floodSmall+floodBig); n != want {
		t.Errorf("%d distinct junk messages rejected in the replica's log, want %d", n, want)
	}
	h.checkMemory(t, "after the flood it found at start")
}

// flood publishes one round of junk, the big messages together in the
// middle, and checks that the stream stored every one.
func (h *rig) flood(t *testing.T, round int) {
	t.Helper()
	js, err := jetstream.New(h.pub.js.Conn(), jetstream.WithPublishAsyncMaxPending(2048))
	harness.Must(t, err)
	junk := treegen.Random(wire.MaxChunkLen+1024, uint64(1800+round))
	ctx, cancel := opContext()
	defer cancel()
	st := h.pub.state(t)
	info, err := st.Info(ctx)
	harness.Must(t, err)
	start := time.Now()
	prefix := fmt.Sprintf("jetsync.%s.s.flood.%d.", h.folder, round)
	for i := range floodSmall + floodBig {
		subject, data := fmt.Sprintf("%s%d", prefix, i), junk[i%1024:i%1024+1+i*7919%512]
		if i >= floodSmall/2 && i < floodSmall/2+floodBig {
			data = junk[i%1024 : i%1024+wire.MaxChunkLen]
		}
		if _, err := js.PublishAsync(subject, data, jetstream.WithStallWait(catchUpTimeout)); err != nil {
			t.Fatalf("publish junk %d: %v", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(catchUpTimeout):
		t.Fatalf("the broker did not acknowledge the flood within %s", catchUpTimeout)
	}
	// The flood may take longer than one operation's timeout: the count
	// after it gets a fresh one.
	actx, acancel := opContext()
	defer acancel()
	after, err := st.Info(actx)
	harness.Must(t, err)
	if got := after.State.Msgs - info.State.Msgs; got != floodSmall+floodBig {
		t.Errorf("the stream stored %d of the %d junk messages", got, floodSmall+floodBig)
	}
	t.Logf("flood %d: %d junk messages (%d of 1 MiB) published in %s", round, floodSmall+floodBig, floodBig,
		time.Since(start).Round(time.Millisecond))
}

// purgeAndEpochBump: the whole state stream purged, then a folder meta of
// a new epoch. The source must notice that its records are gone and
// publish them again; in the end the replica has every file of the
// source and `jetsync verify` finds it equal to the published state.
func (h *rig) purgeAndEpochBump(t *testing.T) {
	meta := h.pub.meta(t)
	ctx, cancel := opContext()
	defer cancel()
	harness.Must(t, h.pub.state(t).Purge(ctx))
	meta["epoch"] = epochOf(meta) + 1
	delete(meta, "partial")
	h.pub.sendMeta(t, meta)
	want := harness.CountFiles(h.src)
	fewest := harness.CountFiles(h.dst)
	within(t, 90*time.Second, "the replica equal to the source again, and verify equal", func() (bool, string) {
		fewest = min(fewest, harness.CountFiles(h.dst))
		if ok, msg := harness.SameTree(t, h.src, h.dst); !ok {
			return false, msg
		}
		if res := harness.Verify(t, h.url, h.folder, h.dst); res.Code != 0 {
			return false, "jetsync verify: " + res.String()
		}
		return true, ""
	})
	t.Logf("while the state was republished the replica held as few as %d of the source's %d files", fewest, want)
}

// rejectedFlood counts the distinct flood subjects the replica's log
// (all its runs) says it rejected.
func rejectedFlood(log string) int {
	b, err := os.ReadFile(log)
	if err != nil {
		return 0
	}
	seen := make(map[string]bool)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "rejected message") {
			continue
		}
		if _, rest, ok := strings.Cut(line, ".s.flood."); ok {
			seen[strings.Fields(rest)[0]] = true
		}
	}
	return len(seen)
}

//go:build linux

package hostile

import (
	"testing"
	"time"
)

// TestHostilePublisher sends what no source would to a broker that a real
// source and replica use, one case after the other (see the package
// documentation for what every case checks).
func TestHostilePublisher(t *testing.T) {
	start := time.Now()
	h := startRig(t)
	t.Logf("trio up and converged in %s", time.Since(start).Round(time.Millisecond))
	h.run(t, "malformed-records", h.malformedRecords)
	h.run(t, "confinement", h.confinement)
	h.run(t, "unused-subjects-and-dir-tombstone", h.unusedSubjects)
	h.run(t, "garbage-meta", h.garbageMeta)
	h.run(t, "parked-records", h.parkedRecords)
	h.run(t, "manifest-bomb", h.manifestBomb)
	h.run(t, "junk-state-and-epoch-bump", h.junkStateEpochBump)
	h.run(t, "partial-meta", h.partialMeta)
	h.run(t, "descendants-before-file", h.descendantsBeforeFile)
	h.run(t, "junk-flood", h.junkFlood)
	h.run(t, "purge-and-epoch-bump", h.purgeAndEpochBump)
	t.Logf("replica r1: highest VmHWM %.1f MB over all its runs; %s in all", float64(h.mem.highest())/1e6, time.Since(start).Round(time.Second))
}

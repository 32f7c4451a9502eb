package replica

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

// TestReconcileHoldsBackStaleStates: after the broker lost its tail, the
// stream may hold, for a path the source changed later, the state from
// before; the source then republishes under a new epoch. A reconciling
// replica must not take its copy back to that older state (and download
// it) while the source is still republishing, but must apply it in the
// end if the source never replaced it.
// The held-back record must keep its content until then when the content
// rides in the record (an inline file), not only when it is in chunks.
func TestReconcileHoldsBackStaleStates(t *testing.T) {
	t.Run("chunked", func(t *testing.T) { testHoldsBackStaleStates(t, false) })
	t.Run("inline", func(t *testing.T) { testHoldsBackStaleStates(t, true) })
}

func testHoldsBackStaleStates(t *testing.T, inline bool) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	file := pub.file
	if inline {
		file = pub.inlineFile
	}
	root, data := t.TempDir(), t.TempDir()
	mt := time.Unix(1700000000, 0)
	fNew, gNew := []byte("f, the newer state"), []byte("g, the newer state")
	fOld, gOld := []byte("f, the lost-tail state"), []byte("g, an older state the source keeps")
	file("f", fNew, 0o644, mt)
	file("g", gNew, 0o644, mt)

	r, stop, _ := startReplica(t, nc, root, data)
	jstest.Eventually(t, 10*time.Second, fileIs(root, "g", gNew, 0o644, mt), "first sync")
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "first sync settles")
	stop()
	fetchedBefore := r.Progress().Fetched

	// The broker lost its tail: the stream now ends before the replica's
	// position and still holds older states of f and g, which the replica
	// had passed long ago.
	pub.epoch = 1
	file("f", fOld, 0o644, mt)
	file("g", gOld, 0o644, mt)
	st, err := openStore(filepath.Join(data, "replica-"+folder+".db"))
	if err != nil {
		t.Fatal(err)
	}
	pos, err := st.position()
	if err != nil {
		t.Fatal(err)
	}
	pos.Cursor = 1 << 20
	if err := st.setPosition(pos); err != nil {
		t.Fatal(err)
	}
	if err := st.close(); err != nil {
		t.Fatal(err)
	}

	r, stop, _ = startReplica(t, nc, root, data)
	defer stop()
	time.Sleep(time.Second) // the reconcile reads everything meanwhile
	for _, c := range []struct {
		path string
		want []byte
	}{{"f", fNew}, {"g", gNew}} {
		if got, err := os.ReadFile(filepath.Join(root, c.path)); err != nil || string(got) != string(c.want) {
			t.Fatalf("%s went back to %q (%v) before the source republished", c.path, got, err)
		}
	}
	if r.Progress().State != "reconciling" {
		t.Fatalf("state %q: the reconcile ended before the source announced a new epoch", r.Progress().State)
	}

	pub.p(wire.Meta{Epoch: 2, Source: "test", Partial: true})
	// The source republishes f, keeps g's older state, and says the state
	// is whole.
	file("f", fNew, 0o644, mt)
	pub.p(wire.Meta{Epoch: 2, Source: "test"})
	jstest.Eventually(t, 10*time.Second, fileIs(root, "g", gOld, 0o644, mt), "g's kept state applied once whole")
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "replica settles")
	// A failed held-back record would end the session, and the next one
	// would read the whole stream again.
	if pr := r.Progress(); pr.Errors != 0 {
		t.Errorf("%d errors, last: %s", pr.Errors, pr.LastError)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "f")); string(got) != string(fNew) {
		t.Fatalf("f = %q, want the republished state", got)
	}
	if got := r.Progress().Fetched; got != int64(len(gOld)) {
		t.Errorf("fetched %d bytes, want only g's older content (%d); before: %d", got, len(gOld), fetchedBefore)
	}
}

// TestAnswerBehind: a held-back record is dropped at the end of a
// reconcile only on the leader's word that its path holds nothing newer.
// A direct get answered by a follower behind the leader (no record, or an
// older one than the replica holds) must not drop it.
func TestAnswerBehind(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	pub.inlineFile("held", []byte("x"), 0o644, time.Unix(1700000000, 0))
	st, err := pub.js.Stream(t.Context(), wire.StreamName(folder))
	if err != nil {
		t.Fatal(err)
	}
	held, empty := wire.StateSubject(folder, "held"), wire.StateSubject(folder, "never")
	for _, tc := range []struct {
		subject    string
		gone, want bool
	}{
		{held, true, true},   // "no record" while the leader has one: behind
		{held, false, true},  // an older record than the one held: behind
		{empty, true, false}, // nothing on the leader either: purged or expired
	} {
		got, err := answerBehind(t.Context(), st, tc.subject, tc.gone)
		if err != nil || got != tc.want {
			t.Errorf("answerBehind(%s, gone %v) = %v, %v; want %v", tc.subject, tc.gone, got, err, tc.want)
		}
	}
}

package replica

import (
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	good := standing{cursor: 10, lastSeen: 12, created: 5, epoch: 2, caughtUp: now.UnixNano()}
	same := brokerState{created: 5, lastSeq: 12, epoch: 2, tombstoneTTL: int64(time.Hour)}
	with := func(f func(*standing, *brokerState)) (standing, brokerState) {
		s, b := good, same
		f(&s, &b)
		return s, b
	}
	cases := []struct {
		name       string
		f          func(*standing, *brokerState)
		bad, loss  bool
		reconciles bool // the same verdict while reconciling
	}{
		{"valid", func(*standing, *brokerState) {}, false, false, false},
		{"first sync", func(s *standing, _ *brokerState) { s.atStart, s.cursor, s.lastSeen = true, 0, 0 }, true, false, true},
		{"nothing applied yet, mid-session", func(s *standing, _ *brokerState) { s.cursor = 0 }, false, false, false},
		{"stream behind what was read", func(_ *standing, b *brokerState) { b.lastSeq = 11 }, true, true, true},
		{"stream recreated", func(_ *standing, b *brokerState) { b.created = 6 }, true, true, false},
		{"newer epoch", func(_ *standing, b *brokerState) { b.epoch = 3 }, true, true, false},
		{"older epoch", func(_ *standing, b *brokerState) { b.epoch = 1 }, false, false, false},
		{"tombstones expired", func(s *standing, _ *brokerState) { s.caughtUp = now.Add(-2 * time.Hour).UnixNano() }, true, false, false},
		{"tombstones kept forever", func(s *standing, b *brokerState) {
			s.caughtUp, b.tombstoneTTL = now.Add(-2*time.Hour).UnixNano(), 0
		}, false, false, false},
	}
	for _, c := range cases {
		s, b := with(c.f)
		v := judge(s, b, now)
		if v.ok() == c.bad || v.loss != c.loss {
			t.Errorf("%s: verdict %+v, want bad=%v loss=%v", c.name, v, c.bad, c.loss)
		}
		s.reconciling = true
		if v := judge(s, b, now); v.ok() == c.reconciles {
			t.Errorf("%s while reconciling: verdict %+v, want bad=%v", c.name, v, c.reconciles)
		}
	}
}

package watch

import (
	"slices"
	"testing"
	"time"
)

func TestTopmost(t *testing.T) {
	t.Parallel()
	set := map[string]struct{}{"a": {}, "a/b": {}, "a/b/c": {}, "a-c": {}, "x/y": {}, "x/y/z": {}}
	got := topmost(set)
	want := []string{"a", "a-c", "x/y"}
	if !slices.Equal(got, want) {
		t.Fatalf("topmost = %v, want %v", got, want)
	}
}

func TestPendingTake(t *testing.T) {
	t.Parallel()
	p := newPending(Options{Debounce: time.Hour, MaxDelay: time.Hour, MaxBatch: 3})
	defer p.stop()
	now := time.Now()

	if _, ok := p.take(); ok {
		t.Fatal("empty pending produced a batch")
	}
	p.addPath("b", now)
	p.addPath("a", now)
	p.addPath("b", now)
	p.addDir("a", now)
	b, ok := p.take()
	if !ok || !slices.Equal(b.Paths, []string{"a", "b"}) || !slices.Equal(b.Dirs, []string{"a"}) || b.Rescan {
		t.Fatalf("take = %+v, %v", b, ok)
	}

	for _, s := range []string{"1", "2", "3", "4", "5"} {
		p.addPath(s, now)
	}
	b, ok = p.take()
	if !ok || !b.Rescan || b.Paths != nil || b.Dirs != nil {
		t.Fatalf("over MaxBatch: take = %+v, %v", b, ok)
	}
	if _, ok := p.take(); ok {
		t.Fatal("pending not reset after take")
	}
}

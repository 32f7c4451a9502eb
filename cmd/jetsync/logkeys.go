package main

import (
	"context"
	"log/slog"
)

// uniqueKeys is a slog handler that writes each key once: a component's
// logger made from another's (the watcher's from the source's, the
// broker's from the daemon's) replaces the inherited "component" rather
// than adding a second one, which JSON readers would take the last of,
// or reject.
type uniqueKeys struct {
	inner slog.Handler
	attrs []slog.Attr // accumulated With attributes, latest value per key
}

func newUniqueKeys(h slog.Handler) slog.Handler { return &uniqueKeys{inner: h} }

func (h *uniqueKeys) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *uniqueKeys) WithAttrs(as []slog.Attr) slog.Handler {
	merged := make([]slog.Attr, 0, len(h.attrs)+len(as))
	for _, a := range h.attrs {
		if !hasKey(as, a.Key) {
			merged = append(merged, a)
		}
	}
	return &uniqueKeys{inner: h.inner, attrs: append(merged, as...)}
}

// WithGroup hands the attributes so far to the inner handler: keys inside
// a group cannot clash with those outside it.
func (h *uniqueKeys) WithGroup(name string) slog.Handler {
	return &uniqueKeys{inner: h.inner.WithAttrs(h.attrs).WithGroup(name)}
}

// Handle writes the record's own attributes after the inherited ones it
// does not replace.
func (h *uniqueKeys) Handle(ctx context.Context, r slog.Record) error {
	if len(h.attrs) == 0 {
		return h.inner.Handle(ctx, r)
	}
	own := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool { own = append(own, a); return true })
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	for _, a := range h.attrs {
		if !hasKey(own, a.Key) {
			out.AddAttrs(a)
		}
	}
	out.AddAttrs(own...)
	return h.inner.Handle(ctx, out)
}

func hasKey(as []slog.Attr, key string) bool {
	for _, a := range as {
		if a.Key == key {
			return true
		}
	}
	return false
}

// durationSeconds writes durations in JSON logs as seconds (a float), the
// unit dashboards and people expect, instead of slog's nanoseconds.
func durationSeconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.Float64Value(a.Value.Duration().Seconds())
	}
	return a
}

package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// LevelTrace is the slog level at which nats-server protocol tracing is
// switched on. Tracing logs every protocol line, so it must be asked for
// explicitly rather than come along with ordinary debug logging.
const LevelTrace = slog.LevelDebug - 4

// slogAdapter implements server.Logger on top of slog.
//
// nats-server reports fatal startup problems (a port in use, an unusable
// store) through Fatalf and then simply stops starting, so the adapter keeps
// the first fatal message for Start to turn into an error instead of waiting
// for a timeout.
type slogAdapter struct {
	log   *slog.Logger
	once  sync.Once
	fatal chan string
}

func newSlogAdapter(l *slog.Logger) *slogAdapter {
	if l == nil {
		l = slog.Default()
	}
	return &slogAdapter{log: l.With("component", "nats"), fatal: make(chan string, 1)}
}

// levels reports which of the server's optional log levels are worth
// producing, so the server does not format lines the handler would drop.
func (a *slogAdapter) levels() (debug, trace bool) {
	ctx := context.Background()
	return a.log.Enabled(ctx, slog.LevelDebug), a.log.Enabled(ctx, LevelTrace)
}

func (a *slogAdapter) emit(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !a.log.Enabled(ctx, level) {
		return
	}
	a.log.Log(ctx, level, fmt.Sprintf(format, v...))
}

// Noticef lines are the server's routine: its banner, listeners, store
// recovery. They matter when debugging; jetsync says itself, at info,
// where its broker listens.
func (a *slogAdapter) Noticef(format string, v ...any) { a.emit(slog.LevelDebug, format, v) }
func (a *slogAdapter) Warnf(format string, v ...any)   { a.emit(slog.LevelWarn, format, v) }
func (a *slogAdapter) Errorf(format string, v ...any)  { a.emit(slog.LevelError, format, v) }
func (a *slogAdapter) Debugf(format string, v ...any)  { a.emit(slog.LevelDebug, format, v) }
func (a *slogAdapter) Tracef(format string, v ...any)  { a.emit(LevelTrace, format, v) }

// Fatalf logs at error level and never exits the process: the embedding
// program decides what a broker failure means.
func (a *slogAdapter) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	a.log.Error(msg, "fatal", true)
	a.once.Do(func() { a.fatal <- msg })
}

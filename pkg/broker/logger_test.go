package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestServerLevelsMapped(t *testing.T) {
	var buf bytes.Buffer
	a := newSlogAdapter(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: LevelTrace})))
	a.Noticef("notice %d", 1)
	a.Warnf("warn %d", 2)
	a.Errorf("error %d", 3)
	a.Debugf("debug %d", 4)
	a.Tracef("trace %d", 5)
	for _, want := range []string{`level=DEBUG msg="notice 1"`, `level=WARN msg="warn 2"`, `level=ERROR msg="error 3"`,
		`level=DEBUG msg="debug 4"`, `level=DEBUG-4 msg="trace 5"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("missing %s in:\n%s", want, buf.String())
		}
	}
}
